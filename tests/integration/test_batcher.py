"""The batcher: acknowledgement after commit, batching, retries of transient errors, isolation of bad batches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from escai.bus.memory import InMemoryBus
from escai.ingest import batcher as batcher_module
from escai.ingest.batcher import Batcher, IngestOverloadedError
from escai.model.events import AgentEvent, EventType
from escai.ops.metrics import IngestMetrics
from escai.store.engine import create_engine
from escai.store.event_writer import DeadLetter, WriteResult, write_batch
from escai.store.tables import agent_events, dead_letter_events, event_processing_metrics


def make_events(prefix: str, count: int) -> list[AgentEvent]:
    """``count`` message events with ids ``prefix0..``."""
    return [
        AgentEvent(id=f"{prefix}{i}", session_id=f"s-{prefix}", agent_id="agent", type=EventType.MESSAGE)
        for i in range(count)
    ]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the parametrised, migrated database."""
    created = create_engine(database_url)
    yield created
    await created.dispose()


async def count(engine: AsyncEngine, table: Any) -> int:
    """Rows in a table, read on a fresh connection (what another process would see)."""
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


def new_batcher(engine: AsyncEngine, **options: Any) -> Batcher:
    """A started batcher with fast timings."""
    values: dict[str, Any] = {"batch_size": 100, "timeout": 0.02, "backoff_base": 0.001}
    values.update(options)
    batcher = Batcher(engine, InMemoryBus(), IngestMetrics(), **values)
    batcher.start()
    return batcher


async def test_submit_returns_after_commit(engine: AsyncEngine) -> None:
    """When submit returns, the events are visible to any other connection."""
    batcher = new_batcher(engine)
    result = await batcher.submit(make_events("a", 10))
    assert len(result.stored) == 10
    assert await count(engine, agent_events) == 10
    await batcher.stop()


async def test_concurrent_submissions_share_transactions(engine: AsyncEngine) -> None:
    """Small concurrent requests are written together, in fewer transactions than requests."""
    batcher = new_batcher(engine, batch_size=100, timeout=0.05)
    results = await asyncio.gather(*(batcher.submit(make_events(f"c{n}-", 5)) for n in range(10)))
    assert all(len(result.stored) == 5 for result in results)
    assert await count(engine, event_processing_metrics) < 10
    await batcher.stop()


async def test_a_request_larger_than_a_batch_stays_whole(engine: AsyncEngine) -> None:
    """A submission over batch_size is written in one transaction rather than split."""
    batcher = new_batcher(engine, batch_size=10)
    await batcher.submit(make_events("big", 35))
    async with engine.connect() as connection:
        sizes = (await connection.execute(select(event_processing_metrics.c.batch_size))).scalars().all()
    assert sizes == [35]
    await batcher.stop()


async def test_transient_errors_are_retried(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two 'database is locked' failures are retried with backoff; the third attempt commits once."""
    failures = {"left": 2}

    async def flaky(connection: AsyncConnection, *args: Any) -> WriteResult:
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return await write_batch(connection, *args)

    monkeypatch.setattr(batcher_module, "write_batch", flaky)
    batcher = new_batcher(engine)
    result = await batcher.submit(make_events("r", 3))
    assert len(result.stored) == 3
    assert await count(engine, agent_events) == 3
    async with engine.connect() as connection:
        retries = (await connection.execute(select(event_processing_metrics.c.retries))).scalars().all()
    assert retries == [2]
    await batcher.stop()


async def test_a_bad_submission_does_not_sink_the_others(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A submission the database refuses for good is dead-lettered; submissions sharing its batch are stored."""

    async def refuse_poison(
        connection: AsyncConnection, events: Sequence[AgentEvent], letters: Sequence[DeadLetter], now: datetime
    ) -> WriteResult:
        if any(event.id.startswith("poison") for event in events):
            raise ProgrammingError("INSERT", {}, Exception("value out of range"))
        return await write_batch(connection, events, letters, now)

    monkeypatch.setattr(batcher_module, "write_batch", refuse_poison)
    batcher = new_batcher(engine, timeout=0.05)
    good, bad = await asyncio.gather(batcher.submit(make_events("good", 4)), batcher.submit(make_events("poison", 2)))
    assert len(good.stored) == 4
    assert bad.stored == [] and bad.dead_letters == 2
    assert await count(engine, agent_events) == 4
    async with engine.connect() as connection:
        reasons = (await connection.execute(select(dead_letter_events.c.reason))).scalars().all()
    assert len(reasons) == 2 and all("value out of range" in reason for reason in reasons)
    await batcher.stop()


async def test_full_queue_refuses_with_overload(engine: AsyncEngine) -> None:
    """When more events wait than the queue bound allows, a new submission is refused, not queued forever."""
    batcher = new_batcher(engine, max_queued_events=10, timeout=0.2, batch_size=1000)
    first = asyncio.create_task(batcher.submit(make_events("q1-", 8)))
    await asyncio.sleep(0)
    with pytest.raises(IngestOverloadedError, match="queue is full"):
        await batcher.submit(make_events("q2-", 8))
    assert len((await first).stored) == 8
    await batcher.stop()


async def test_stop_writes_what_is_queued(engine: AsyncEngine) -> None:
    """Stopping waits for queued submissions to be committed."""
    batcher = new_batcher(engine, timeout=0.5, batch_size=1000)
    pending = asyncio.create_task(batcher.submit(make_events("s", 5)))
    await asyncio.sleep(0)
    await batcher.stop()
    assert len((await pending).stored) == 5
    assert await count(engine, agent_events) == 5
