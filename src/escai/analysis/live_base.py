"""What every live analysis worker shares: a bus subscription to stored events, CPU pacing, batched writes.

A worker subscribes to the bus for stored events, so it never slows ingest: a slow analysis only fills its own
subscription buffer (and, if that overflows, skips events, which the bus counts in ``dropped``). Its CPU time, writes
included, is kept within ``cpu_share`` of the wall clock, because ingest shares the loop and the cores. Pending results
are written every ``flush_interval`` seconds in one transaction, retried when SQLite reports a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections import deque
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from escai.bus.base import ChangeKind, EventBus, Subscription
from escai.model.events import AgentEvent
from escai.ops.logging import get_logger

LATENCY_WINDOW = 10_000
PACING_WINDOW_S = 1.0
FLUSH_ATTEMPTS = 5

_log = get_logger(__name__, component="analysis.live")


class LiveWorker(ABC):
    """Feeds stored events to :meth:`handle` and writes what :meth:`take_pending` returns."""

    name = "live"

    def __init__(
        self, engine: AsyncEngine, bus: EventBus, *, flush_interval: float = 0.25, cpu_share: float = 0.25
    ) -> None:
        self._engine = engine
        self._bus = bus
        self._flush_interval = flush_interval
        self._cpu_share = cpu_share
        self._window_started = time.perf_counter()
        self._window_busy = 0.0
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.update_seconds: deque[float] = deque(maxlen=LATENCY_WINDOW)
        """Time to take in each event (analysis and publication), newest last: the live-path latency."""
        self.processed = 0

    @abstractmethod
    async def handle(self, event: AgentEvent) -> None:
        """Analyse one stored event: update the session's state, publish, and keep the results to write."""

    @abstractmethod
    def take_pending(self) -> Any:
        """The results waiting to be written (and forget them), or None when there are none."""

    @abstractmethod
    async def write(self, connection: AsyncConnection, pending: Any) -> None:
        """Write what :meth:`take_pending` returned, inside the given transaction."""

    async def start(self) -> None:
        """Subscribe to stored events and start the analysis and flush loops."""
        self._subscription = self._bus.subscribe(lambda change: change.kind is ChangeKind.EVENT_STORED)
        self._tasks = [asyncio.create_task(self._consume()), asyncio.create_task(self._flush_periodically())]

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Analyse what is already queued (up to ``drain_timeout`` seconds), stop, and write what is pending."""
        if self._subscription is not None:
            deadline = time.monotonic() + drain_timeout
            # Polling: the queue offers no "empty" notification, and this runs once, at shutdown.
            while self._subscription.pending and time.monotonic() < deadline and self._tasks:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await self._subscription.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.flush()

    async def observe(self, event: AgentEvent) -> None:
        """Take in one stored event, timing it."""
        started = time.perf_counter()
        await self.handle(event)
        self.processed += 1
        self.update_seconds.append(time.perf_counter() - started)

    async def flush(self) -> None:
        """Write pending results in one transaction, retrying when the database is locked."""
        pending = self.take_pending()
        if pending is None:
            return
        started = time.perf_counter()
        for attempt in range(1, FLUSH_ATTEMPTS + 1):
            try:
                async with self._engine.begin() as connection:
                    await self.write(connection, pending)
                break
            except OperationalError:
                # SQLite refuses a read transaction's upgrade to a writer while ingest writes ("database is locked"):
                # the whole transaction rolled back, so trying again is safe.
                if attempt == FLUSH_ATTEMPTS:
                    _log.exception("analysis.flush_failed", worker=self.name, attempts=attempt)
                else:
                    await asyncio.sleep(0.05 * 2**attempt)
            except Exception:
                # Analysis results can be recomputed from the stored events; losing a batch must not stop the worker.
                _log.exception("analysis.flush_failed", worker=self.name)
                break
        # Writing competes with ingest for the database and the loop: it counts against the analysis CPU share.
        self._window_busy += time.perf_counter() - started

    @property
    def dropped(self) -> int:
        """Stored events the worker never saw because it was behind (its subscription buffer was full)."""
        return self._subscription.dropped if self._subscription is not None else 0

    async def _consume(self) -> None:
        assert self._subscription is not None
        async for change in self._subscription:
            if isinstance(change.payload, AgentEvent):
                started = time.perf_counter()
                try:
                    await self.observe(change.payload)
                except Exception:
                    _log.exception("analysis.event_failed", worker=self.name, event_id=change.payload.id)
                self._window_busy += time.perf_counter() - started
            await self._pace()

    async def _pace(self) -> None:
        """Keep analysis within its share of the CPU so ingest, which shares the loop and the cores, keeps pace.

        Under a flood the worker falls behind: its subscription buffer fills and the bus skips events for it (counted
        in ``dropped``), never for ingest; ``POST /api/v1/sessions/{id}/analyze`` recomputes a session in full.
        """
        elapsed = time.perf_counter() - self._window_started
        allowed = self._cpu_share * elapsed
        if self._window_busy > allowed:
            await asyncio.sleep((self._window_busy - allowed) / self._cpu_share)
        else:
            # Yield after every event so a burst of analysis never holds the loop that ingest runs on.
            await asyncio.sleep(0)
        if elapsed > PACING_WINDOW_S:
            self._window_started, self._window_busy = time.perf_counter(), 0.0

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            await self.flush()
