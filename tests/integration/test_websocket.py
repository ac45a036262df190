"""/api/v1/ws: subscribers receive the stored events of the sessions and agents they asked for, and only those."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from tests.integration.conftest import event, make_settings

from escai.server.app import create_app


def receive_events(websocket: Any, count: int) -> list[dict[str, Any]]:
    """Read frames until ``count`` stored-event frames have arrived (other frame kinds are skipped)."""
    found = []
    while len(found) < count:
        frame = websocket.receive_json()
        if frame["type"] == "event.stored":
            found.append(frame)
    return found


def receive_type(websocket: Any, kind: str) -> dict[str, Any]:
    """The next frame of the given type, skipping live changes that arrive in between."""
    while True:
        frame: dict[str, Any] = websocket.receive_json()
        if frame["type"] == kind:
            return frame


def test_session_subscriber_receives_only_its_session(client: TestClient) -> None:
    """A client subscribed to one session gets that session's events in order, and none of another session's."""
    with client.websocket_connect("/api/v1/ws?session_id=watched") as websocket:
        assert websocket.receive_json()["sessions"] == ["watched"]
        client.post(
            "/api/v1/events", json=[event("other", id="x1"), event("watched", id="w1"), event("watched", id="w2")]
        )
        client.post("/api/v1/events", json=[event("other", id="x2"), event("watched", id="w3")])
        frames = receive_events(websocket, 3)
        assert [frame["data"]["id"] for frame in frames] == ["w1", "w2", "w3"]
        assert all(frame["session_id"] == "watched" for frame in frames)
        assert frames[0]["published_at"] > 0


def test_subscribe_by_message_to_an_agent_and_unsubscribe(client: TestClient) -> None:
    """Subscriptions can be changed with messages; an agent subscription spans sessions."""
    with client.websocket_connect("/api/v1/ws") as websocket:
        websocket.receive_json()
        websocket.send_json({"action": "subscribe", "agent_id": "coder"})
        assert websocket.receive_json()["agents"] == ["coder"]
        client.post(
            "/api/v1/events",
            json=[event("s1", "coder", id="c1"), event("s2", "planner", id="p1"), event("s3", "coder", id="c2")],
        )
        assert [frame["data"]["id"] for frame in receive_events(websocket, 2)] == ["c1", "c2"]
        websocket.send_json({"action": "unsubscribe", "agent_id": "coder"})
        assert receive_type(websocket, "subscribed")["agents"] == []
        websocket.send_json({"action": "ping"})
        assert receive_type(websocket, "pong") == {"type": "pong"}


def test_bad_messages_get_errors_and_the_connection_stays_open(client: TestClient) -> None:
    """Malformed or unknown messages are answered with an error frame; the subscription keeps working."""
    with client.websocket_connect("/api/v1/ws?all=true") as websocket:
        websocket.receive_json()
        websocket.send_text("{nope")
        assert websocket.receive_json()["type"] == "error"
        websocket.send_json({"action": "dance"})
        assert "unknown action" in websocket.receive_json()["detail"]
        websocket.send_json({"action": "subscribe"})
        assert "session_id" in websocket.receive_json()["detail"]
        client.post("/api/v1/events", json=[event("any", id="a1")])
        assert receive_events(websocket, 1)[0]["data"]["id"] == "a1"


def test_session_updates_are_published(client: TestClient) -> None:
    """Besides events, subscribers are told that the session changed."""
    with client.websocket_connect("/api/v1/ws?session_id=s-u") as websocket:
        websocket.receive_json()
        client.post("/api/v1/events", json=[event("s-u", id="u1")])
        kinds = {websocket.receive_json()["type"] for _ in range(2)}
        assert kinds == {"event.stored", "session.updated"}


def test_websocket_requires_key_when_configured(database_url: str, tmp_path: Any) -> None:
    """Without a valid key the socket is closed with a policy-violation code; with one it is served."""
    key = "w" * 20
    with TestClient(create_app(make_settings(database_url, tmp_path, api_keys=key))) as client:
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/api/v1/ws?all=1") as websocket:
            websocket.receive_json()
        assert refused.value.code == 1008
        with client.websocket_connect(f"/api/v1/ws?all=1&api_key={key}") as websocket:
            assert websocket.receive_json()["all"] is True
