"""Retry with exponential backoff, timeout, circuit breaker and token-bucket rate limiting."""

from __future__ import annotations

import asyncio
import enum
import random

from pydantic import BaseModel

from escai.nodes.errors import CircuitOpenError, NodeTimeoutError, NodeValidationError, PurityError
from escai.nodes.mixins.layer import CallStats, NodeHandle, Proceed
from escai.nodes.settings import CircuitBreakerSettings, RateLimitSettings, RetrySettings

__all__ = ["CircuitBreakerLayer", "CircuitState", "RateLimitLayer", "RetryLayer", "TimeoutLayer", "backoff_delay"]

# The same input fails the same way again: retrying a contract or purity violation only wastes time.
_NEVER_RETRIED: tuple[type[BaseException], ...] = (NodeValidationError, PurityError)


def backoff_delay(settings: RetrySettings, failed_attempt: int, rng: random.Random) -> float:
    """Return the wait after attempt number ``failed_attempt`` (1-based), jitter included, never negative."""
    delay = min(settings.max_delay, settings.base_delay * settings.multiplier ** (failed_attempt - 1))
    spread = delay * settings.jitter
    return max(0.0, delay + rng.uniform(-spread, spread))


class RetryLayer:
    """Repeat a failing call up to ``max_attempts`` times for the configured exception types, with backoff."""

    name = "retry"

    def __init__(self, node: NodeHandle, stats: CallStats) -> None:
        """Seed the jitter generator from the settings."""
        self._node = node
        self._settings = node.settings.retry
        self._stats = stats
        self._rng = random.Random(self._settings.seed)
        self.last_attempts = 0
        """Attempts made by the most recent call."""

    async def invoke(self, data: BaseModel, proceed: Proceed) -> BaseModel:
        """Call ``proceed`` until it succeeds, the error is not retryable, or attempts run out."""
        attempt = 1
        while True:
            self.last_attempts = attempt
            try:
                return await proceed(data)
            except _NEVER_RETRIED:
                raise
            except self._settings.retry_on:
                if attempt >= self._settings.max_attempts:
                    raise
            self._stats.retries += 1
            await self._node.context.clock.sleep(backoff_delay(self._settings, attempt, self._rng))
            attempt += 1


class TimeoutLayer:
    """Cancel the rest of the chain after ``seconds`` and raise :class:`NodeTimeoutError`."""

    name = "timeout"

    def __init__(self, node: NodeHandle) -> None:
        """Read the limit from the settings."""
        self._node = node
        self._seconds = node.settings.timeout.seconds

    async def invoke(self, data: BaseModel, proceed: Proceed) -> BaseModel:
        """Run ``proceed`` under ``asyncio.timeout``."""
        try:
            async with asyncio.timeout(self._seconds) as scope:
                return await proceed(data)
        except TimeoutError as error:
            # Only our own deadline becomes NodeTimeoutError; a TimeoutError raised by the node itself passes through.
            if scope.expired():
                message = f"{self._node.node_name} did not finish within {self._seconds} s"
                raise NodeTimeoutError(message) from error
            raise


class CircuitState(enum.StrEnum):
    """The breaker's state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreakerLayer:
    """Reject calls after repeated failures, then let one trial call through after the reset timeout."""

    name = "circuit_breaker"

    def __init__(self, node: NodeHandle) -> None:
        """Start closed."""
        self._node = node
        self._settings: CircuitBreakerSettings = node.settings.circuit_breaker
        self._state = CircuitState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> CircuitState:
        """The state now: an open breaker reads as half-open once the reset timeout has passed."""
        elapsed = self._node.context.clock.monotonic() - self._opened_at
        if self._state is CircuitState.OPEN and elapsed >= self._settings.reset_timeout:
            self._state = CircuitState.HALF_OPEN
        return self._state

    async def invoke(self, data: BaseModel, proceed: Proceed) -> BaseModel:
        """Pass the call through unless open (or half-open with a trial already running)."""
        state = self.state
        if state is CircuitState.OPEN or (state is CircuitState.HALF_OPEN and self._trial_running):
            raise CircuitOpenError(
                f"{self._node.node_name}: circuit open after {self._consecutive_failures} consecutive failures"
            )
        trial = state is CircuitState.HALF_OPEN
        self._trial_running = trial
        try:
            result = await proceed(data)
        except NodeValidationError:
            # Bad input says nothing about the dependency's health.
            raise
        except Exception:
            self._record_failure(trial)
            raise
        finally:
            if trial:
                self._trial_running = False
        self._consecutive_failures = 0
        self._state = CircuitState.CLOSED
        return result

    def _record_failure(self, trial: bool) -> None:
        self._consecutive_failures += 1
        if trial or self._consecutive_failures >= self._settings.failure_threshold:
            self._state = CircuitState.OPEN
            self._opened_at = self._node.context.clock.monotonic()


class RateLimitLayer:
    """A token bucket: a call takes one token and waits for the refill when none is left."""

    name = "rate_limiting"

    def __init__(self, node: NodeHandle) -> None:
        """Start with a full bucket."""
        self._node = node
        self._settings: RateLimitSettings = node.settings.rate_limiting
        self._tokens = float(self._settings.burst)
        self._refilled_at = node.context.clock.monotonic()
        self._lock = asyncio.Lock()
        self.waited = 0.0
        """Total seconds calls have waited for tokens."""

    async def invoke(self, data: BaseModel, proceed: Proceed) -> BaseModel:
        """Take a token (waiting if needed), then proceed."""
        await self._take_token()
        return await proceed(data)

    async def _take_token(self) -> None:
        clock = self._node.context.clock
        # One waiter at a time, so tokens go to callers in arrival order.
        async with self._lock:
            while True:
                now = clock.monotonic()
                refill = (now - self._refilled_at) * self._settings.rate_per_second
                self._tokens = min(float(self._settings.burst), self._tokens + refill)
                self._refilled_at = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                wait = (1.0 - self._tokens) / self._settings.rate_per_second
                self.waited += wait
                await clock.sleep(wait)
