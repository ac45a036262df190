"""The bus interface. Implementations: in-process (:mod:`escai.bus.memory`); Redis Streams comes later.

Every stored event and every analysis result is published as a :class:`ChangeEvent`. Subscribers choose what
they see with a predicate on session and agent, so a WebSocket client watching one session is never sent the
rest of the traffic.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class ChangeKind(enum.StrEnum):
    """What changed."""

    EVENT_STORED = "event.stored"
    SESSION_UPDATED = "session.updated"
    ANALYSIS_RESULT = "analysis.result"


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change, addressed by session and agent so subscribers can filter cheaply."""

    kind: ChangeKind
    session_id: str | None
    agent_id: str | None
    payload: Any
    """The changed thing: an AgentEvent, a record from escai.model, or a JSON-ready dict."""
    published_at: float = 0.0
    """``time.perf_counter()``-free wall clock (``time.time()``) when published, for latency measurements."""
    extra: dict[str, Any] = field(default_factory=dict)


ChangeFilter = Callable[[ChangeEvent], bool]


class Subscription(Protocol):
    """A live feed of change events; iterate it, and close it when done."""

    dropped: int
    """Changes this subscriber missed because it read too slowly (its buffer was full)."""

    def __aiter__(self) -> AsyncIterator[ChangeEvent]: ...

    @property
    def pending(self) -> int:
        """Changes received and not read yet (a worker waits for 0 before it stops, so nothing is lost)."""
        ...

    async def close(self) -> None:
        """Stop receiving; pending iteration ends."""
        ...


class EventBus(Protocol):
    """Publish changes; subscribe to the ones that match a filter."""

    async def publish(self, changes: list[ChangeEvent]) -> None:
        """Deliver changes to every matching subscriber. Never blocks on a slow subscriber."""
        ...

    def subscribe(self, accept: ChangeFilter, buffer: int = 10_000) -> Subscription:
        """A new subscription receiving the changes for which ``accept`` is true."""
        ...

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open (publishers may skip work when there are none)."""
        ...

    async def close(self) -> None:
        """Close every subscription and release resources."""
        ...
