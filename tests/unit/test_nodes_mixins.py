"""Each mixin's behaviour: retry, timeout, caching, breaker, rate limit, validation, health, logging, metrics."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from escai.nodes import (
    CacheSettings,
    CircuitBreakerSettings,
    CircuitOpenError,
    ComputeNode,
    EffectNode,
    ManualClock,
    MixinSettings,
    NodeContext,
    NodeTimeoutError,
    NodeValidationError,
    RateLimitSettings,
    RetrySettings,
    TimeoutSettings,
    build_node,
)
from escai.nodes.mixins import CacheLayer, RateLimitLayer, RetryLayer
from escai.ops.logging import get_correlation_id, log_context


class Query(BaseModel):
    key: str
    count: int = 1


class Answer(BaseModel):
    value: str


class Flaky(EffectNode[Query, Answer, BaseModel]):
    """Fails ``failures_left`` times, then answers; records every attempt."""

    input_model = Query
    output_model = Answer
    idempotent = True

    def __init__(self, *args: object, failures: int = 0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.remaining_failures = failures
        self.attempts = 0
        self.seen_correlation_ids: list[str | None] = []

    async def execute(self, data: Query) -> Answer:
        self.attempts += 1
        self.seen_correlation_ids.append(get_correlation_id())
        if self.remaining_failures > 0:
            self.remaining_failures -= 1
            raise ConnectionError(f"attempt {self.attempts} failed")
        return Answer(value=f"{data.key}:{self.attempts}")


def make_flaky(mixins: tuple[str, ...], failures: int = 0, **settings: Any) -> Flaky:
    node_class = type("Flaky", (Flaky,), {"mixins": mixins})
    clock = ManualClock()
    return node_class(  # type: ignore[no-any-return]
        context=NodeContext(clock=clock), settings=MixinSettings(**settings), failures=failures
    )


async def test_retry_repeats_with_exponential_backoff() -> None:
    """Two failures then success: three attempts, waits 0.1 then 0.2 s (no jitter)."""
    node = make_flaky(("retry",), failures=2, retry=RetrySettings(max_attempts=3, base_delay=0.1, jitter=0.0))
    assert await node.run({"key": "a"}) == Answer(value="a:3")
    assert node.attempts == 3
    assert node.context.clock.sleeps == pytest.approx([0.1, 0.2])  # type: ignore[attr-defined]
    layer = node.mixin_layer("retry")
    assert isinstance(layer, RetryLayer) and layer.last_attempts == 3


async def test_retry_gives_up_after_max_attempts_and_caps_the_delay() -> None:
    """Failures beyond max_attempts raise the last error; delays stop growing at max_delay; jitter stays in bounds."""
    settings = RetrySettings(max_attempts=5, base_delay=1.0, multiplier=3.0, max_delay=4.0, jitter=0.25, seed=7)
    node = make_flaky(("retry",), failures=10, retry=settings)
    with pytest.raises(ConnectionError, match="attempt 5 failed"):
        await node.run({"key": "a"})
    assert node.attempts == 5
    sleeps = node.context.clock.sleeps  # type: ignore[attr-defined]
    for observed, nominal in zip(sleeps, [1.0, 3.0, 4.0, 4.0], strict=True):
        assert nominal * 0.75 <= observed <= nominal * 1.25
    assert len(set(sleeps)) == 4  # jitter makes equal nominal delays differ


async def test_retry_only_retries_the_configured_exceptions() -> None:
    """An exception type outside retry_on fails at the first attempt."""
    node = make_flaky(("retry",), failures=3, retry=RetrySettings(retry_on=(TimeoutError,)))
    with pytest.raises(ConnectionError):
        await node.run({"key": "a"})
    assert node.attempts == 1


async def test_timeout_fires_and_bounds_the_call() -> None:
    """A call slower than the timeout raises NodeTimeoutError well before it would finish."""

    class Slow(EffectNode[Query, Answer, BaseModel]):
        input_model = Query
        output_model = Answer
        mixins = ("timeout",)

        async def execute(self, data: Query) -> Answer:
            await asyncio.sleep(5)
            return Answer(value="late")

    node = Slow(settings=MixinSettings(timeout=TimeoutSettings(seconds=0.05)))
    started = asyncio.get_running_loop().time()
    with pytest.raises(NodeTimeoutError, match=r"did not finish within 0\.05 s"):
        await node.run({"key": "a"})
    assert asyncio.get_running_loop().time() - started < 1.0


async def test_cache_hits_expire_and_evict() -> None:
    """Same input is served from cache, TTL expiry recomputes, and the least recently used entry is evicted."""

    class Upper(ComputeNode[Query, Answer, BaseModel]):
        input_model = Query
        output_model = Answer
        mixins = ("caching",)

    calls: list[str] = []

    async def counting_execute(self: Upper, data: Query) -> Answer:
        calls.append(data.key)
        return Answer(value=data.key.upper())

    Upper.execute = counting_execute  # type: ignore[method-assign,assignment]  # counts calls without an impure class body
    clock = ManualClock()
    node = Upper(
        context=NodeContext(clock=clock), settings=MixinSettings(caching=CacheSettings(ttl_seconds=10, max_entries=2))
    )
    assert (await node.run({"key": "a"})).value == "A"
    assert (await node.run({"key": "a"})).value == "A"
    assert calls == ["a"]
    clock.advance(11)
    await node.run({"key": "a"})
    assert calls == ["a", "a"]
    await node.run({"key": "b"})
    await node.run({"key": "c"})  # evicts "a", the least recently used
    await node.run({"key": "a"})
    layer = node.mixin_layer("caching")
    assert isinstance(layer, CacheLayer)
    assert calls == ["a", "a", "b", "c", "a"]
    assert (layer.hits, layer.misses, layer.evictions, len(layer)) == (1, 5, 2, 2)


async def test_circuit_breaker_opens_half_opens_and_closes() -> None:
    """Threshold failures open it, calls are rejected, after the reset timeout one trial closes it again."""
    node = make_flaky(
        ("health_check", "circuit_breaker"),
        failures=2,
        circuit_breaker=CircuitBreakerSettings(failure_threshold=2, reset_timeout=30),
    )
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await node.run({"key": "a"})
    assert (await node.health()).circuit_state == "open"
    with pytest.raises(CircuitOpenError):
        await node.run({"key": "a"})
    assert node.attempts == 2  # the rejected call never reached execute
    node.context.clock.advance(30)  # type: ignore[attr-defined]
    assert (await node.health()).circuit_state == "half_open"
    assert await node.run({"key": "a"}) == Answer(value="a:3")
    health = await node.health()
    assert (health.circuit_state, health.healthy) == ("closed", True)


async def test_failed_trial_in_half_open_reopens_the_circuit() -> None:
    """A failing trial call after the reset timeout opens the breaker again at once."""
    node = make_flaky(
        ("circuit_breaker",), failures=5, circuit_breaker=CircuitBreakerSettings(failure_threshold=1, reset_timeout=5)
    )
    with pytest.raises(ConnectionError):
        await node.run({"key": "a"})
    node.context.clock.advance(5)  # type: ignore[attr-defined]
    with pytest.raises(ConnectionError):
        await node.run({"key": "a"})
    with pytest.raises(CircuitOpenError):
        await node.run({"key": "a"})


async def test_rate_limit_waits_for_tokens() -> None:
    """With 2 tokens/s and a burst of 2, the third and fourth calls wait half a second each."""
    node = make_flaky(("rate_limiting",), rate_limiting=RateLimitSettings(rate_per_second=2.0, burst=2))
    for _ in range(4):
        await node.run({"key": "a"})
    assert node.context.clock.sleeps == pytest.approx([0.5, 0.5])  # type: ignore[attr-defined]
    layer = node.mixin_layer("rate_limiting")
    assert isinstance(layer, RateLimitLayer) and layer.waited == pytest.approx(1.0)


async def test_validation_is_strict_on_input_and_output() -> None:
    """With validation, a numeric string for an int is rejected; without it, it is coerced; bad outputs fail."""
    strict = make_flaky(("validation",))
    with pytest.raises(NodeValidationError, match="invalid input"):
        await strict.run({"key": "a", "count": "2"})
    lax = make_flaky(())
    assert (await lax.run({"key": "a", "count": "2"})).value == "a:1"
    with pytest.raises(NodeValidationError, match="invalid input"):
        await lax.run({"count": 1})

    class WrongOutput(EffectNode[Query, Answer, BaseModel]):
        input_model = Query
        output_model = Answer
        mixins = ("validation",)

        async def execute(self, data: Query) -> Answer:
            return Answer.model_construct(value=3)  # type: ignore[arg-type]  # bypasses validation on purpose

    with pytest.raises(NodeValidationError, match="invalid Answer"):
        await WrongOutput().run(Query(key="a"))


async def test_health_reports_calls_failures_and_last_error() -> None:
    """The health mixin counts calls and keeps the last error; a failing probe makes the node unhealthy."""
    node = make_flaky(("health_check", "retry"), failures=1, retry=RetrySettings(max_attempts=1))
    with pytest.raises(ConnectionError):
        await node.run({"key": "a"})
    await node.run({"key": "b"})
    health = await node.health()
    assert (health.calls, health.successes, health.failures) == (2, 1, 1)
    assert health.last_error == "ConnectionError: attempt 1 failed"
    assert health.tracked and health.healthy and health.circuit_state is None

    class Unreachable(Flaky):
        async def check_health(self) -> bool:
            raise OSError("database unreachable")

    probe_health = await Unreachable().health()
    assert not probe_health.healthy
    assert probe_health.last_error == "OSError: database unreachable"


async def test_logging_binds_a_correlation_id_that_follows_the_call(caplog: pytest.LogCaptureFixture) -> None:
    """Each call gets a correlation id seen inside execute and in the log record; an outer id is kept."""
    caplog.set_level(logging.DEBUG, logger="escai.nodes")
    node = make_flaky(("logging",))
    await node.run({"key": "a"})
    await node.run({"key": "b"})
    first, second = node.seen_correlation_ids
    assert first and second and first != second
    finished = [record for record in caplog.records if "node.finished" in record.getMessage()]
    assert len(finished) == 2
    async with log_context(correlation_id="outer-id"):
        await node.run({"key": "c"})
    assert node.seen_correlation_ids[-1] == "outer-id"
    assert get_correlation_id() is None


async def test_metrics_count_calls_and_time_them_in_the_given_registry() -> None:
    """Calls are counted by outcome and timed, labelled by node, in the context's registry."""
    registry = CollectorRegistry()
    node = build_node(Flaky, mixins=["metrics"], context=NodeContext(registry=registry))
    await node.run({"key": "a"})
    failing = build_node(Flaky, mixins=["metrics"], context=NodeContext(registry=registry))
    failing.remaining_failures = 1
    with pytest.raises(ConnectionError):
        await failing.run({"key": "a"})
    labels = {"node": "Flaky", "kind": "effect"}
    assert registry.get_sample_value("escai_node_calls_total", {**labels, "outcome": "ok"}) == 1.0
    assert registry.get_sample_value("escai_node_calls_total", {**labels, "outcome": "ConnectionError"}) == 1.0
    assert registry.get_sample_value("escai_node_duration_seconds_count", labels) == 2.0


async def test_mixins_apply_in_documented_order_whatever_the_declared_order() -> None:
    """Timeout wraps retry: a retry loop slower than the timeout is cut by it, whatever order the class lists."""

    class Hanging(EffectNode[Query, Answer, BaseModel]):
        input_model = Query
        output_model = Answer
        idempotent = True
        mixins = ("retry", "timeout")

        async def execute(self, data: Query) -> Answer:
            await asyncio.sleep(0.03)
            raise ConnectionError("down")

    settings = MixinSettings(
        retry=RetrySettings(max_attempts=100, base_delay=0.0, jitter=0.0), timeout=TimeoutSettings(seconds=0.1)
    )
    node = Hanging(settings=settings)
    with pytest.raises(NodeTimeoutError):
        await node.run({"key": "a"})
    assert [layer.name for layer in node._layers] == ["timeout", "retry"]
