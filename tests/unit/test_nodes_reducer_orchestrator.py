"""Reducers are idempotent on replay and persist state across instances; orchestrators compensate in reverse."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from escai.nodes import (
    ComputeNode,
    InMemoryStateStore,
    JsonFileStateStore,
    NodeContext,
    OrchestratorNode,
    ReducerNode,
    Step,
    StepResults,
    Workflow,
    WorkflowError,
)


class Sale(BaseModel):
    idempotency_key: str
    store: str
    amount: int


class Totals(BaseModel):
    by_store: dict[str, int] = Field(default_factory=dict)
    count: int = 0


class SalesTotals(ReducerNode[Sale, Totals, BaseModel]):
    input_model = Sale
    output_model = Totals

    def reduce(self, state: Totals, item: Sale) -> Totals:
        by_store = dict(state.by_store)
        by_store[item.store] = by_store.get(item.store, 0) + item.amount
        return Totals(by_store=by_store, count=state.count + 1)


class Reading(BaseModel):
    sensor: str
    value: float


class Peak(BaseModel):
    peak: float = 0.0


class PeakPerSensor(ReducerNode[Reading, Peak, BaseModel]):
    input_model = Reading
    output_model = Peak

    def reduce(self, state: Peak, item: Reading) -> Peak:
        return Peak(peak=max(state.peak, item.value))

    def partition(self, item: Reading) -> str:
        return item.sensor


async def test_replayed_key_does_not_change_the_state() -> None:
    """Applying the same sale twice counts it once; a new key is applied."""
    node = SalesTotals()
    await node.run({"idempotency_key": "s1", "store": "north", "amount": 5})
    replay = await node.run({"idempotency_key": "s1", "store": "north", "amount": 5})
    assert replay == Totals(by_store={"north": 5}, count=1)
    final = await node.run({"idempotency_key": "s2", "store": "south", "amount": 2})
    assert final == Totals(by_store={"north": 5, "south": 2}, count=2)
    assert node.replays == 1


async def test_state_persists_across_instances_in_a_json_store(tmp_path: Path) -> None:
    """A new instance over the same JSON store continues the state and still recognises old keys."""
    first = SalesTotals(context=NodeContext(state_store=JsonFileStateStore(tmp_path)))
    await first.run({"idempotency_key": "a", "store": "x", "amount": 3})
    await first.run({"idempotency_key": "b", "store": "x", "amount": 4})
    second = SalesTotals(context=NodeContext(state_store=JsonFileStateStore(tmp_path)))
    assert await second.current_state() == Totals(by_store={"x": 7}, count=2)
    await second.run({"idempotency_key": "a", "store": "x", "amount": 3})
    assert (await second.current_state()).count == 2
    assert second.replays == 1
    assert second.state_store.path_for("SalesTotals/default").name == "SalesTotals%2Fdefault.json"  # type: ignore[attr-defined]


async def test_content_hash_keys_and_partitions() -> None:
    """Without an idempotency_key field, identical items are one key; partitions keep separate states."""
    store = InMemoryStateStore()
    node = PeakPerSensor(context=NodeContext(state_store=store))
    await node.run({"sensor": "a", "value": 3.0})
    await node.run({"sensor": "a", "value": 3.0})
    await node.run({"sensor": "b", "value": 9.0})
    assert node.replays == 1
    assert await node.current_state("a") == Peak(peak=3.0)
    assert await node.current_state("b") == Peak(peak=9.0)


async def test_concurrent_items_are_all_applied() -> None:
    """Concurrent calls on one reducer do not lose updates."""
    node = SalesTotals()
    await asyncio.gather(*(node.run({"idempotency_key": str(index), "store": "x", "amount": 1}) for index in range(20)))
    assert await node.current_state() == Totals(by_store={"x": 20}, count=20)


class Order(BaseModel):
    order_id: str
    fail_at: str | None = None


class OrderResult(BaseModel):
    steps: list[str]


class Doubler(ComputeNode[Reading, Peak, BaseModel]):
    input_model = Reading
    output_model = Peak

    def compute(self, data: Reading) -> Peak:
        return Peak(peak=data.value * 2)


class OrderFlow(OrchestratorNode[Order, OrderResult, BaseModel]):
    """reserve -> charge -> ship, each undoable; fails at the step named in the input."""

    input_model = Order
    output_model = OrderResult

    def __init__(self) -> None:
        super().__init__()
        self.journal: list[str] = []

    def build_workflow(self, data: Order) -> Workflow:
        def action(name: str):  # type: ignore[no-untyped-def]
            async def run(results: StepResults) -> str:
                if data.fail_at == name:
                    raise RuntimeError(f"{name} failed")
                self.journal.append(f"do {name}")
                return name

            return run

        def undo(name: str):  # type: ignore[no-untyped-def]
            async def run(results: StepResults) -> None:
                assert results[name] == name
                self.journal.append(f"undo {name}")

            return run

        return Workflow([Step(name, action(name), undo(name)) for name in ("reserve", "charge", "ship")])

    def collect(self, data: Order, results: StepResults) -> OrderResult:
        return OrderResult(steps=list(results))


async def test_orchestrator_runs_steps_in_order() -> None:
    """Without failure every step runs once, in order."""
    flow = OrderFlow()
    assert await flow.run({"order_id": "o1"}) == OrderResult(steps=["reserve", "charge", "ship"])
    assert flow.journal == ["do reserve", "do charge", "do ship"]


async def test_orchestrator_compensates_completed_steps_in_reverse() -> None:
    """A failing third step undoes the second then the first; the error names step and compensations."""
    flow = OrderFlow()
    with pytest.raises(WorkflowError) as caught:
        await flow.run({"order_id": "o1", "fail_at": "ship"})
    assert flow.journal == ["do reserve", "do charge", "undo charge", "undo reserve"]
    assert caught.value.step == "ship"
    assert caught.value.compensated == ["charge", "reserve"]
    assert isinstance(caught.value.cause, RuntimeError)


async def test_dag_runs_independent_steps_concurrently_and_compensates() -> None:
    """In DAG mode, steps wait for their dependencies; nodes run as steps; a failure compensates what completed."""
    started: list[str] = []
    undone: list[str] = []
    gate = asyncio.Event()

    async def left(results: StepResults) -> int:
        started.append("left")
        await gate.wait()
        return 1

    async def right(results: StepResults) -> int:
        started.append("right")
        gate.set()  # only possible if both run at the same time
        return 2

    async def broken(results: StepResults) -> None:
        raise ValueError(f"sum was {results['sum']}")

    async def total(results: StepResults) -> int:
        return int(results["left"] + results["right"] + results["double"].peak)

    steps = [
        Step("left", left, lambda results: undone.append("left")),
        Step("right", right, lambda results: undone.append("right")),
        Step.of_node("double", Doubler(), lambda results: {"sensor": "s", "value": results["left"]}, after=["left"]),
        Step("sum", total, lambda results: undone.append("sum"), after=("double", "right")),
        Step("broken", broken, after=("sum",)),
    ]
    workflow = Workflow(steps, mode="dag")
    with pytest.raises(WorkflowError, match="sum was 5"):
        await asyncio.wait_for(workflow.run(), 2)
    assert sorted(started) == ["left", "right"]
    assert set(workflow.completed[:2]) == {"left", "right"}
    assert workflow.completed[2:] == ["double", "sum"]
    assert undone == ["sum", *reversed(workflow.completed[:2])]
    assert workflow.compensated == ["sum", *reversed(workflow.completed[:2])]


def test_dag_refuses_cycles_and_unknown_dependencies() -> None:
    """A cycle or a missing dependency is refused when the workflow is built."""

    async def noop(results: StepResults) -> None:
        return None

    with pytest.raises(ValueError, match="cycle"):
        Workflow([Step("a", noop, after=("b",)), Step("b", noop, after=("a",))], mode="dag")
    with pytest.raises(ValueError, match="unknown steps"):
        Workflow([Step("a", noop, after=("missing",))], mode="dag")
