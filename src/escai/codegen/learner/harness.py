"""A behavioural test of one (node kind, mixins) combination on the real escai.nodes runtime.

:func:`try_combination` defines a tiny node class of the kind with those mixins (the definition itself may
raise :class:`~escai.nodes.errors.MixinConflictError` or :class:`~escai.nodes.errors.PurityError`: that is an
outcome), then runs scenarios on fresh instances and checks the result and each mixin's observable effect:

- every call returns the right total; a Reducer also ignores a replayed item;
- validation rejects input that lax parsing would coerce; caching serves a repeated call from the cache;
- retry turns one transient failure into a success (backoff waits on a manual clock); without retry it surfaces;
- transaction (and an Orchestrator's compensation) undoes a failed call's registered work;
- timeout cancels a slow call; the circuit breaker opens after repeated failures; rate limiting makes a burst
  wait; event publishing puts an event on the bus; metrics count calls; the health check counts them too.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from escai.bus.base import ChangeEvent
from escai.bus.memory import InMemoryBus
from escai.nodes.base import ComputeNode, EffectNode, Node
from escai.nodes.context import ManualClock, NodeContext
from escai.nodes.errors import CircuitOpenError, MixinConflictError, NodeError, NodeTimeoutError, NodeValidationError
from escai.nodes.mixins.transaction import current_unit_of_work
from escai.nodes.orchestrator import OrchestratorNode, Step, Workflow
from escai.nodes.reducer import ReducerNode
from escai.nodes.settings import (
    CircuitBreakerSettings,
    MixinSettings,
    RateLimitSettings,
    RetrySettings,
    TimeoutSettings,
)

_SLOW_SECONDS = 0.5
_TIMEOUT_SECONDS = 0.02
_class_numbers = itertools.count()


class Numbers(BaseModel):
    """The input of every test node."""

    values: list[int]


class Total(BaseModel):
    """The output (and a Reducer's state) of every test node."""

    total: int = 0


class InjectedFailure(RuntimeError):
    """The transient failure the scenarios inject."""


class BehaviourError(AssertionError):
    """A combination built but did not behave as its mixins promise."""


@dataclass(slots=True)
class Knobs:
    """What the scenario asks of one instance: failures to inject, slowness, and what happened."""

    failures_left: int = 0
    slow: bool = False
    calls: int = 0
    compensations: int = 0
    published: list[ChangeEvent] = field(default_factory=list)


class _RecordingBus(InMemoryBus):
    def __init__(self, knobs: Knobs) -> None:
        super().__init__()
        self._knobs = knobs

    async def publish(self, changes: list[ChangeEvent]) -> None:
        self._knobs.published.extend(changes)
        await super().publish(changes)


async def _io_step(knobs: Knobs, values: Sequence[int]) -> int:
    """The side-effecting work of Effect and Orchestrator nodes: maybe slow, maybe failing, with an undo."""
    knobs.calls += 1
    unit = current_unit_of_work()
    if unit is not None:

        def undo() -> None:
            knobs.compensations += 1

        unit.on_rollback(undo)
    if knobs.slow:
        await asyncio.sleep(_SLOW_SECONDS)
    if knobs.failures_left > 0:
        knobs.failures_left -= 1
        raise InjectedFailure("transient failure")
    return sum(values)


def define_node_class(kind: str, mixins: Sequence[str]) -> type[Node[Any, Any, Any]]:
    """Define a test node class of ``kind`` with ``mixins``; raises what the runtime raises for a bad combination."""
    name = f"Probe{kind.title()}{next(_class_numbers)}"
    common: dict[str, Any] = {
        "input_model": Numbers,
        "output_model": Total,
        "mixins": tuple(mixins),
        "__module__": __name__,
        # Retried Effects must be idempotent; this test node is (it only adds numbers), so it says so.
        "idempotent": True,
    }
    if kind == "compute":

        def compute(self: Any, data: Numbers) -> Total:
            return Total(total=sum(data.values))

        return type(name, (ComputeNode,), {**common, "compute": compute})
    if kind == "effect":

        async def execute(self: Any, data: Numbers) -> Total:
            return Total(total=await _io_step(self.knobs, data.values))

        return type(name, (EffectNode,), {**common, "execute": execute})
    if kind == "reducer":

        def reduce(self: Any, state: Total, item: Numbers) -> Total:
            knobs: Knobs = self.knobs
            knobs.calls += 1
            unit = current_unit_of_work()
            if unit is not None:

                def undo() -> None:
                    knobs.compensations += 1

                unit.on_rollback(undo)
            if knobs.failures_left > 0:
                knobs.failures_left -= 1
                raise InjectedFailure("transient failure")
            return Total(total=state.total + sum(item.values))

        return type(name, (ReducerNode,), {**common, "reduce": reduce})

    def build_workflow(self: Any, data: Numbers) -> Workflow:
        knobs: Knobs = self.knobs

        async def add(results: Any) -> int:
            return sum(data.values)

        async def check(results: Any) -> int:
            return await _io_step(knobs, [results["add"]])

        def undo(results: Any) -> None:
            knobs.compensations += 1

        return Workflow([Step("add", add, undo), Step("check", check)])

    def collect(self: Any, data: Numbers, results: Any) -> Total:
        return Total(total=results["check"])

    return type(name, (OrchestratorNode,), {**common, "build_workflow": build_workflow, "collect": collect})


@dataclass(slots=True)
class _Probe:
    node: Any
    knobs: Knobs
    clock: ManualClock
    registry: CollectorRegistry


def _probe(node_class: type[Node[Any, Any, Any]], *, timeout: float = 5.0) -> _Probe:
    knobs = Knobs()
    clock = ManualClock()
    registry = CollectorRegistry()
    # Small limits so each mixin's effect shows within a few calls; backoff and rate waits run on the manual clock.
    settings = MixinSettings(
        retry=RetrySettings(max_attempts=3, base_delay=0.1, seed=0),
        timeout=TimeoutSettings(seconds=timeout),
        circuit_breaker=CircuitBreakerSettings(failure_threshold=2, reset_timeout=60.0),
        rate_limiting=RateLimitSettings(rate_per_second=1.0, burst=1),
    )
    context = NodeContext(bus=_RecordingBus(knobs), clock=clock, registry=registry)
    node: Any = node_class(None, context, settings=settings)
    node.knobs = knobs
    return _Probe(node, knobs, clock, registry)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise BehaviourError(message)


async def _expect_total(node: Any, data: object, total: int) -> None:
    result = await node.run(data)
    _expect(isinstance(result, Total) and result.total == total, f"expected total {total}, got {result!r}")


async def _expect_raises(node: Any, data: object, errors: tuple[type[BaseException], ...], what: str) -> None:
    try:
        await node.run(data)
    except errors:
        return
    raise BehaviourError(f"{what} did not happen")


async def _check_basics(node_class: type[Node[Any, Any, Any]], kind: str, mixins: Sequence[str]) -> None:
    probe = _probe(node_class)
    await _expect_total(probe.node, Numbers(values=[1, 2, 3]), 6)
    if kind == "reducer":
        await _expect_total(probe.node, Numbers(values=[4]), 10)
        await _expect_total(probe.node, Numbers(values=[4]), 10)  # a replay is not counted twice
    else:
        await _expect_total(probe.node, Numbers(values=[4]), 4)
        await _expect_total(probe.node, Numbers(values=[4]), 4)
    if "caching" in mixins:
        layer = probe.node.mixin_layer("caching")
        _expect(getattr(layer, "hits", 0) >= 1, "caching served no repeated call from the cache")
    lax = {"values": ["5", "6"]}
    if "validation" in mixins:
        await _expect_raises(probe.node, lax, (NodeValidationError,), "strict validation of string numbers")
    elif kind != "reducer":
        await _expect_total(probe.node, lax, 11)
    if "event_publishing" in mixins:
        _expect(bool(probe.knobs.published), "no event was published")
    if "metrics" in mixins:
        counted = sum(
            sample.value
            for metric in probe.registry.collect()
            for sample in metric.samples
            if sample.labels.get("node") == probe.node.node_name and sample.name.endswith("_total")
        )
        _expect(counted >= 1, "metrics counted no call")
    if "health_check" in mixins:
        health = await probe.node.health()
        _expect(health.tracked and health.calls >= 3, f"health check tracked {health.calls} calls")
    if "rate_limiting" in mixins:
        _expect(sum(probe.clock.sleeps) > 0, "a burst of calls never waited for the rate limit")


async def _check_failures(node_class: type[Node[Any, Any, Any]], kind: str, mixins: Sequence[str]) -> None:
    if kind == "compute":
        return  # a pure node cannot fail transiently or be slow on purpose
    probe = _probe(node_class)
    probe.knobs.failures_left = 1
    if "retry" in mixins:
        await _expect_total(probe.node, Numbers(values=[2, 2]), 4)
        _expect(probe.knobs.calls >= 2, "retry did not call again after a failure")
        _expect(any(delay > 0 for delay in probe.clock.sleeps), "retry did not back off")
    else:
        await _expect_raises(probe.node, Numbers(values=[2, 2]), (InjectedFailure, NodeError), "the failure")
        await _expect_total(probe.node, Numbers(values=[2, 3]), 5)
    if "transaction" in mixins or kind == "orchestrator":
        _expect(probe.knobs.compensations >= 1, "the failed call's work was not undone")
    if "circuit_breaker" in mixins:
        breaker = _probe(node_class)
        breaker.knobs.failures_left = 1_000
        for attempt in range(2):
            await _expect_raises(breaker.node, Numbers(values=[attempt]), (InjectedFailure, NodeError), "a failure")
        calls_before = breaker.knobs.calls
        await _expect_raises(breaker.node, Numbers(values=[9]), (CircuitOpenError,), "an open circuit")
        _expect(breaker.knobs.calls == calls_before, "the open circuit still called the node")
    if "timeout" in mixins and kind != "reducer":
        slow = _probe(node_class, timeout=_TIMEOUT_SECONDS)
        slow.knobs.slow = True
        await _expect_raises(slow.node, Numbers(values=[1]), (NodeTimeoutError,), "a timeout")


@dataclass(frozen=True, slots=True)
class Trial:
    """The outcome of one combination: success, or the stage and message of the failure.

    ``error`` starts with the stage that failed: ``definition``, ``behaviour`` or ``crash`` (an unexpected
    exception while exercising the node). ``culprits`` are the mixins the runtime blamed (definition failures);
    empty when it could not say.
    """

    success: bool
    error: str | None = None
    culprits: tuple[str, ...] = ()


async def try_combination(kind: str, mixins: Sequence[str]) -> Trial:
    """Define, build and exercise a node of ``kind`` with ``mixins`` and say how it went."""
    try:
        node_class = define_node_class(kind, mixins)
    except MixinConflictError as error:
        culprits = tuple(sorted({name for problem in error.problems for name in problem.mixins}))
        return Trial(False, f"definition: {error}", culprits)
    except NodeError as error:
        return Trial(False, f"definition: {error}")
    try:
        await _check_basics(node_class, kind, mixins)
        await _check_failures(node_class, kind, mixins)
    except BehaviourError as error:
        return Trial(False, f"behaviour: {error}")
    except Exception as error:
        # Any other exception is a finding about the combination, not a harness crash: record it as one.
        return Trial(False, f"crash: {type(error).__name__}: {error}")
    return Trial(True)
