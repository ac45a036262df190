"""Publish each successful result as an ``analysis.result`` change on ESCAI's event bus."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from escai.bus import ChangeEvent, ChangeKind
from escai.nodes.mixins.layer import NodeHandle, Proceed
from escai.ops.logging import get_correlation_id

__all__ = ["EventPublishingLayer", "analysis_name"]


def analysis_name(node_name: str) -> str:
    """Return the ``analysis`` value of the events a node publishes (``node:<name>``)."""
    return f"node:{node_name}"


class EventPublishingLayer:
    """After a successful call, publish ``ChangeEvent(ANALYSIS_RESULT)`` with the output on the context's bus."""

    name = "event_publishing"

    def __init__(self, node: NodeHandle) -> None:
        """Remember the node; without a bus in its context, nothing is published."""
        self._node = node
        self.published = 0

    async def invoke(self, data: BaseModel, proceed: Proceed) -> BaseModel:
        """Proceed, then publish the result; failures publish nothing."""
        result = await proceed(data)
        bus = self._node.context.bus
        if bus is None:
            return result
        payload: dict[str, Any] = {
            "analysis": analysis_name(self._node.node_name),
            "node": self._node.node_name,
            "kind": self._node.node_kind.value,
            "result": result.model_dump(mode="json"),
            "correlation_id": get_correlation_id(),
        }
        session_id = _string_field(data, "session_id") or self._node.context.session_id
        agent_id = _string_field(data, "agent_id") or self._node.context.agent_id
        change = ChangeEvent(ChangeKind.ANALYSIS_RESULT, session_id, agent_id, payload, published_at=time.time())
        await bus.publish([change])
        self.published += 1
        return result


def _string_field(data: BaseModel, field_name: str) -> str | None:
    value = getattr(data, field_name, None)
    return value if isinstance(value, str) else None
