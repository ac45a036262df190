"""What a node may reach at run time: bus, database engine, metrics registry, clock, logger and state store.

Every field is optional so a node runs standalone (in a test, or inside a generated package's own tests).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from sqlalchemy.ext.asyncio import AsyncEngine

    from escai.bus import EventBus
    from escai.nodes.state import StateStore
    from escai.ops.logging import EscaiLogger

__all__ = ["Clock", "ManualClock", "NodeContext", "SystemClock"]


class Clock(Protocol):
    """Time as the mixins see it: a monotonic reading and an awaitable sleep (swapped for a manual clock in tests)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        """Return ``time.monotonic()``."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to, or when something sleeps on it; it records every sleep.

    Retry backoff and rate-limit waits become observable and instant in tests.
    """

    def __init__(self, start: float = 0.0) -> None:
        """Start at ``start`` seconds with no recorded sleeps."""
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """Return the current manual time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Record the sleep, advance time by it, and yield to the loop once."""
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Move time forward without sleeping (e.g. past a circuit breaker's reset timeout)."""
        self.now += seconds


@dataclass(slots=True)
class NodeContext:
    """The environment shared by the nodes of one process or one workflow."""

    bus: EventBus | None = None
    """Where the event-publishing mixin sends ``ChangeEvent``s."""
    engine: AsyncEngine | None = None
    """Database engine for the transaction mixin; without it, transactions use an in-memory undo log."""
    registry: CollectorRegistry | None = None
    """Prometheus registry for the metrics mixin; each node gets a private registry when this is None."""
    clock: Clock = field(default_factory=SystemClock)
    """Clock for backoff, rate limits, cache TTLs and the circuit breaker."""
    logger: EscaiLogger | None = None
    """Logger for the logging mixin; ``escai.ops.logging.get_logger("escai.nodes")`` when None."""
    state_store: StateStore | None = None
    """Where Reducer nodes keep their state; a private in-memory store when None."""
    session_id: str | None = None
    """Session the published events belong to, when the input does not carry one."""
    agent_id: str | None = None
    """Agent the published events belong to, when the input does not carry one."""
