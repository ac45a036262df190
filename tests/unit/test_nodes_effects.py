"""Effect nodes: events published on a real InMemoryBus, and transactions that commit or roll back."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest
from pydantic import BaseModel
from sqlalchemy import text

from escai.bus import ChangeEvent, ChangeKind, InMemoryBus
from escai.nodes import EffectNode, NodeContext, UnitOfWork, current_unit_of_work
from escai.store.engine import create_engine


class Item(BaseModel):
    item_id: int
    session_id: str = "session-1"
    fail: bool = False


class Stored(BaseModel):
    item_id: int


class RowWriter(EffectNode[Item, Stored, BaseModel]):
    """Inserts a row through the unit of work's connection, then fails when asked to."""

    input_model = Item
    output_model = Stored
    mixins = ("transaction", "event_publishing")

    async def execute(self, data: Item) -> Stored:
        unit = current_unit_of_work()
        assert unit is not None and unit.connection is not None
        await unit.connection.execute(
            text("INSERT INTO node_test_rows (item_id) VALUES (:item_id)"), {"item_id": data.item_id}
        )
        if data.fail:
            raise RuntimeError("write failed after the insert")
        return Stored(item_id=data.item_id)


class ListWriter(EffectNode[Item, Stored, BaseModel]):
    """Appends to an external list and registers the compensation that removes it."""

    input_model = Item
    output_model = Stored
    mixins = ("transaction",)
    sink: ClassVar[list[int]] = []

    async def execute(self, data: Item) -> Stored:
        unit = current_unit_of_work()
        assert unit is not None and unit.connection is None
        self.sink.append(data.item_id)
        unit.on_rollback(lambda: self.sink.remove(data.item_id))
        if data.fail:
            raise RuntimeError("failed after the append")
        return Stored(item_id=data.item_id)


async def test_successful_call_publishes_an_analysis_result() -> None:
    """A successful call publishes one ANALYSIS_RESULT change with node:<name>; a failed one publishes nothing."""
    bus = InMemoryBus()
    subscription = bus.subscribe(lambda change: change.kind is ChangeKind.ANALYSIS_RESULT)

    class Publisher(EffectNode[Item, Stored, BaseModel]):
        input_model = Item
        output_model = Stored
        mixins = ("logging", "event_publishing")

        async def execute(self, data: Item) -> Stored:
            if data.fail:
                raise RuntimeError("no")
            return Stored(item_id=data.item_id)

    publisher = Publisher(context=NodeContext(bus=bus, agent_id="agent-7"))
    await publisher.run({"item_id": 4, "session_id": "s-42"})
    with pytest.raises(RuntimeError):
        await publisher.run({"item_id": 5, "fail": True})
    assert subscription.pending == 1
    change: ChangeEvent = await asyncio.wait_for(anext(aiter(subscription)), 1)
    assert (change.session_id, change.agent_id) == ("s-42", "agent-7")
    assert change.payload["analysis"] == "node:Publisher"
    assert change.payload["result"] == {"item_id": 4}
    assert change.payload["correlation_id"]
    await bus.close()


async def test_in_memory_transaction_runs_compensations_on_failure() -> None:
    """Without an engine, a failing call undoes its registered side effects; a successful one keeps them."""
    ListWriter.sink = []
    node = ListWriter()
    await node.run({"item_id": 1})
    with pytest.raises(RuntimeError):
        await node.run({"item_id": 2, "fail": True})
    assert ListWriter.sink == [1]


async def test_transaction_helper_compensates_newest_first() -> None:
    """Compensations registered in one unit of work run in reverse order and errors in one do not stop the rest."""
    undone: list[str] = []
    node = ListWriter()

    def failing_compensation() -> None:
        raise ValueError("cannot undo b")

    async def undo_c() -> None:
        undone.append("c")

    units: list[UnitOfWork] = []

    async def fail_inside_unit() -> None:
        async with node.transaction() as unit:
            units.append(unit)
            unit.on_rollback(lambda: undone.append("a"))
            unit.on_rollback(failing_compensation)
            unit.on_rollback(undo_c)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_inside_unit()
    (unit,) = units
    assert undone == ["c", "a"]
    assert unit.outcome == "rolled_back"
    assert [str(error) for error in unit.compensation_errors] == ["cannot undo b"]


async def test_database_transaction_commits_or_rolls_back(database_url: str) -> None:
    """With an engine, a failing call's insert is rolled back and a successful one is committed."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE node_test_rows (item_id INTEGER NOT NULL)"))
        bus = InMemoryBus()
        subscription = bus.subscribe(lambda change: True)
        node = RowWriter(context=NodeContext(engine=engine, bus=bus))
        assert await node.run({"item_id": 1}) == Stored(item_id=1)
        with pytest.raises(RuntimeError, match="after the insert"):
            await node.run({"item_id": 2, "fail": True})
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT item_id FROM node_test_rows"))).scalars().all()
        assert list(rows) == [1]
        assert subscription.pending == 1  # only the committed call was published
        await bus.close()
    finally:
        await engine.dispose()
