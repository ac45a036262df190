"""``/api/v1/ws``: live events for the sessions and agents a client subscribes to.

Protocol (JSON text frames). The client may subscribe in the URL (``?session_id=S&agent_id=A``, repeatable) or
by message::

    -> {"action": "subscribe", "session_id": "S"}      or {"action": "subscribe", "agent_id": "A"}
    -> {"action": "subscribe", "all": true}            everything (the dashboard's firehose)
    -> {"action": "unsubscribe", "session_id": "S"}
    -> {"action": "ping"}
    <- {"type": "subscribed", "sessions": [...], "agents": [...], "all": false}
    <- {"type": "event.stored", "session_id": "S", "agent_id": "A", "published_at": 1.7e9, "data": {event}}
    <- {"type": "session.updated", "session_id": "S", ...}
    <- {"type": "error", "detail": "..."}                 a bad message; the connection stays open
    <- {"type": "pong"}

A client that reads too slowly misses changes rather than slowing ingest; the server says how many in a
``{"type": "dropped", "count": N}`` frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel

from escai.bus.base import ChangeEvent
from escai.server.deps import websocket_key_is_valid
from escai.service import EscaiService

router = APIRouter()


@dataclass
class _Interest:
    sessions: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    everything: bool = False

    def accepts(self, change: ChangeEvent) -> bool:
        return (
            self.everything
            or (change.session_id is not None and change.session_id in self.sessions)
            or (change.agent_id is not None and change.agent_id in self.agents)
        )

    def describe(self) -> dict[str, Any]:
        return {
            "type": "subscribed",
            "sessions": sorted(self.sessions),
            "agents": sorted(self.agents),
            "all": self.everything,
        }


def _frame(change: ChangeEvent) -> bytes:
    payload = change.payload
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    return orjson.dumps(
        {
            "type": change.kind.value,
            "session_id": change.session_id,
            "agent_id": change.agent_id,
            "published_at": change.published_at,
            "data": data,
        }
    )


def _apply(interest: _Interest, message: Any) -> str | None:
    """Change the interest as the message asks; return an error text for a bad message."""
    if not isinstance(message, dict):
        return "a message must be a JSON object"
    action = message.get("action")
    if action not in ("subscribe", "unsubscribe"):
        return f"unknown action {action!r}; use subscribe, unsubscribe or ping"
    adding = action == "subscribe"
    session_id, agent_id = message.get("session_id"), message.get("agent_id")
    if message.get("all") is True:
        interest.everything = adding
    elif isinstance(session_id, str) and session_id:
        (interest.sessions.add if adding else interest.sessions.discard)(session_id)
    elif isinstance(agent_id, str) and agent_id:
        (interest.agents.add if adding else interest.agents.discard)(agent_id)
    else:
        return "name a session_id or agent_id (a non-empty string), or all: true"
    return None


@router.websocket("/api/v1/ws")
async def live_events(websocket: WebSocket) -> None:
    """Stream stored events of subscribed sessions and agents to the client."""
    if not websocket_key_is_valid(websocket):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="missing or invalid API key")
        return
    await websocket.accept()
    service: EscaiService = websocket.app.state.service
    interest = _Interest(
        sessions=set(websocket.query_params.getlist("session_id")),
        agents=set(websocket.query_params.getlist("agent_id")),
        everything=websocket.query_params.get("all") in ("1", "true"),
    )
    subscription = service.bus.subscribe(interest.accepts)
    service.metrics.websocket_subscribers.inc()
    sender = asyncio.create_task(_send_changes(websocket, subscription))
    try:
        await _send(websocket, interest.describe())
        while True:
            raw = await websocket.receive_text()
            try:
                message = orjson.loads(raw)
            except orjson.JSONDecodeError as error:
                await _send(websocket, {"type": "error", "detail": f"not JSON: {error}"})
                continue
            if isinstance(message, dict) and message.get("action") == "ping":
                await _send(websocket, {"type": "pong"})
                continue
            problem = _apply(interest, message)
            reply = {"type": "error", "detail": problem} if problem else interest.describe()
            await _send(websocket, reply)
    except WebSocketDisconnect:
        pass
    finally:
        service.metrics.websocket_subscribers.dec()
        await subscription.close()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


async def _send(websocket: WebSocket, message: dict[str, Any]) -> None:
    await websocket.send_text(orjson.dumps(message).decode())


async def _send_changes(websocket: WebSocket, subscription: Any) -> None:
    reported_drops = 0
    async for change in subscription:
        await websocket.send_text(_frame(change).decode())
        if subscription.dropped > reported_drops:
            await _send(websocket, {"type": "dropped", "count": subscription.dropped - reported_drops})
            reported_drops = subscription.dropped
