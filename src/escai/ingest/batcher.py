"""The batcher: collects validated events from many requests and writes them in bulk, one transaction a batch.

A batch closes when it holds ``batch_size`` events or ``timeout`` has passed since its first submission; one
request's events always travel together, so a request is stored whole or not at all. Each submitter awaits its
own future and is answered only after the transaction that holds its events has committed: an acknowledged event
is on disk. Transient database errors are retried with exponential backoff; a batch that fails for good is split
per submission so that one bad request cannot sink the others. After every commit the stored events are
published on the bus, and one row of timings goes to ``event_processing_metrics`` in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from escai.bus.base import ChangeEvent, ChangeKind, EventBus
from escai.exceptions import IngestError
from escai.model.events import AgentEvent
from escai.ops.logging import get_logger
from escai.ops.metrics import IngestMetrics
from escai.store.event_writer import DeadLetter, WriteResult, write_batch
from escai.store.tables import event_processing_metrics

logger = get_logger("escai.ingest.batcher", component="ingest")


class IngestOverloadedError(IngestError):
    """The ingest queue is full; the client should retry later (HTTP 503)."""


@dataclass(slots=True)
class _Submission:
    events: Sequence[AgentEvent]
    dead_letters: Sequence[DeadLetter]
    source: str
    future: asyncio.Future[WriteResult]
    enqueued_at: float = field(default_factory=time.perf_counter)

    @property
    def size(self) -> int:
        return len(self.events) + len(self.dead_letters)


def _is_transient(error: Exception) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    # SQLite "database is locked" and PostgreSQL connection/serialisation failures surface as OperationalError.
    return isinstance(error, OperationalError)


class Batcher:
    """Bulk writer with a bounded queue; see the module docstring for its guarantees."""

    def __init__(
        self,
        engine: AsyncEngine,
        bus: EventBus,
        metrics: IngestMetrics,
        *,
        batch_size: int = 100,
        timeout: float = 0.1,
        max_queued_events: int = 200_000,
        retries: int = 5,
        backoff_base: float = 0.05,
    ) -> None:
        self._engine = engine
        self._bus = bus
        self._metrics = metrics
        self._batch_size = batch_size
        self._timeout = timeout
        self._max_queued = max_queued_events
        self._retries = retries
        self._backoff_base = backoff_base
        self._queue: asyncio.Queue[_Submission] = asyncio.Queue()
        self._queued_events = 0
        self._task: asyncio.Task[None] | None = None
        self._carried: _Submission | None = None

    @property
    def queued_events(self) -> int:
        """Events waiting to be written."""
        return self._queued_events

    @property
    def running(self) -> bool:
        """Whether the writer task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the writer task on the running event loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="escai-batcher")

    async def stop(self) -> None:
        """Write everything already queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit(
        self, events: Sequence[AgentEvent], dead_letters: Sequence[DeadLetter] = (), source: str = "api"
    ) -> WriteResult:
        """Queue events (and dead letters) and wait until they are committed."""
        if not self.running:
            raise IngestError("the ingest writer is not running")
        submission = _Submission(events, dead_letters, source, asyncio.get_running_loop().create_future())
        if self._queued_events + submission.size > self._max_queued and self._queued_events > 0:
            raise IngestOverloadedError(f"ingest queue is full ({self._queued_events} events waiting); retry shortly")
        self._queued_events += submission.size
        self._metrics.queue_depth.set(self._queued_events)
        self._queue.put_nowait(submission)
        # shield: a client that disconnects must not cancel a write that other submissions share.
        return await asyncio.shield(submission.future)

    async def _next_batch(self) -> list[_Submission]:
        first = self._carried if self._carried is not None else await self._queue.get()
        self._carried = None
        batch, size = [first], first.size
        deadline = first.enqueued_at + self._timeout
        while size < self._batch_size:
            try:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    item = self._queue.get_nowait()
                else:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
            except (asyncio.QueueEmpty, TimeoutError):
                break
            if size + item.size > self._batch_size:
                self._carried = item  # requests stay whole: this one opens the next batch
                break
            batch.append(item)
            size += item.size
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[_Submission]) -> None:
        try:
            results = await self._write_with_retries(batch)
        except Exception as error:
            if len(batch) > 1:
                # Find the bad submission by writing each alone; the others still commit.
                for submission in batch:
                    await self._write([submission])
                return
            results = [await self._dead_letter_whole(batch[0], error)]
        for submission, result in zip(batch, results, strict=True):
            self._queued_events -= submission.size
            if not submission.future.done():
                submission.future.set_result(result)
        self._metrics.queue_depth.set(self._queued_events)
        await self._publish([event for result in results for event in result.stored])

    async def _write_with_retries(self, batch: list[_Submission]) -> list[WriteResult]:
        events = [event for submission in batch for event in submission.events]
        letters = [letter for submission in batch for letter in submission.dead_letters]
        started = time.perf_counter()
        queue_wait = max(started - submission.enqueued_at for submission in batch)
        attempt = 0
        while True:
            attempt_started = time.perf_counter()
            try:
                async with self._engine.begin() as connection:
                    now = datetime.now(UTC)
                    result = await write_batch(connection, events, letters, now)
                    duration = time.perf_counter() - attempt_started
                    await connection.execute(
                        insert(event_processing_metrics),
                        {
                            "batch_id": uuid.uuid4().hex,
                            "stage": "batch_write",
                            "source": batch[0].source,
                            "batch_size": len(events) + len(letters),
                            "duration_ms": duration * 1000,
                            "queue_wait_ms": queue_wait * 1000,
                            "retries": attempt,
                            "success": True,
                            "error": None,
                            "recorded_at": now,
                        },
                    )
                break
            except Exception as error:
                if not _is_transient(error) or attempt >= self._retries:
                    self._metrics.write_failures.inc()
                    logger.warning("batch write failed", error=str(error), attempts=attempt + 1, size=len(events))
                    raise
                attempt += 1
                self._metrics.write_retries.inc()
                # Full jitter keeps several writers from retrying in lock-step.
                await asyncio.sleep(random.uniform(0, self._backoff_base * 2**attempt))
        self._metrics.batch_write_seconds.observe(time.perf_counter() - started)
        self._metrics.batch_size.observe(len(events) + len(letters))
        self._metrics.queue_wait_seconds.observe(queue_wait)
        self._metrics.events_stored.inc(len(result.stored))
        self._metrics.events_duplicate.inc(len(result.duplicate_ids))
        return _split_result(batch, result)

    async def _dead_letter_whole(self, submission: _Submission, error: Exception) -> WriteResult:
        """The database refused this submission for good: keep every event of it as a dead letter."""
        now = datetime.now(UTC)
        reason = f"storage refused the batch: {type(error).__name__}: {str(error)[:500]}"
        letters = [*submission.dead_letters] + [
            DeadLetter("storage", reason, orjson.dumps(event.model_dump(mode="json")).decode(), now, event.id)
            for event in submission.events
        ]
        async with self._engine.begin() as connection:
            await write_batch(connection, [], letters, now)
        return WriteResult(dead_letters=len(letters))

    async def _publish(self, stored: list[AgentEvent]) -> None:
        if not stored or self._bus.subscriber_count == 0:
            return
        now = time.time()
        changes = [
            ChangeEvent(ChangeKind.EVENT_STORED, event.session_id, event.agent_id, event, now) for event in stored
        ]
        sessions = {event.session_id: event.agent_id for event in stored}
        changes.extend(
            ChangeEvent(ChangeKind.SESSION_UPDATED, session_id, agent_id, {"session_id": session_id}, now)
            for session_id, agent_id in sessions.items()
        )
        await self._bus.publish(changes)


def _split_result(batch: list[_Submission], combined: WriteResult) -> list[WriteResult]:
    if len(batch) == 1:
        return [combined]
    stored_ids = {event.id for event in combined.stored}
    results = []
    for submission in batch:
        own = WriteResult(dead_letters=len(submission.dead_letters))
        for event in submission.events:
            if event.id in stored_ids:
                own.stored.append(event)
                stored_ids.discard(event.id)  # the same id in two submissions is stored for the first only
            else:
                own.duplicate_ids.append(event.id)
        results.append(own)
    return results
