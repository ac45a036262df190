"""Tuning of each mixin. A node class sets ``mixin_settings``; an instance may override it when built."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CacheSettings",
    "CircuitBreakerSettings",
    "MixinSettings",
    "RateLimitSettings",
    "RetrySettings",
    "TimeoutSettings",
    "ValidationSettings",
]


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """Exponential backoff: attempt ``n`` waits ``min(max_delay, base_delay * multiplier**(n-1))`` +/- jitter."""

    max_attempts: int = 3
    base_delay: float = 0.1
    multiplier: float = 2.0
    max_delay: float = 10.0
    jitter: float = 0.1
    """Fraction of the delay added or removed at random, so that many clients do not retry in lockstep."""
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    seed: int | None = None
    """Seed of the jitter's random generator (for reproducible tests); None draws from the OS."""


@dataclass(frozen=True, slots=True)
class TimeoutSettings:
    """Cancel a call that takes longer than ``seconds`` (retries included, since timeout wraps retry)."""

    seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """Results are kept ``ttl_seconds`` per distinct input, at most ``max_entries`` (least recently used go first)."""

    ttl_seconds: float = 300.0
    max_entries: int = 1024


@dataclass(frozen=True, slots=True)
class CircuitBreakerSettings:
    """Open after ``failure_threshold`` consecutive failures; try one call again after ``reset_timeout`` seconds."""

    failure_threshold: int = 5
    reset_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """Token bucket: ``rate_per_second`` tokens refill continuously up to ``burst``; each call takes one."""

    rate_per_second: float = 10.0
    burst: int = 10


@dataclass(frozen=True, slots=True)
class ValidationSettings:
    """Strict validation of input and output; Compute nodes are also run twice to check determinism."""

    check_determinism: bool = True


@dataclass(frozen=True, slots=True)
class MixinSettings:
    """Settings of every mixin; only the ones a node enables are used."""

    retry: RetrySettings = field(default_factory=RetrySettings)
    timeout: TimeoutSettings = field(default_factory=TimeoutSettings)
    caching: CacheSettings = field(default_factory=CacheSettings)
    circuit_breaker: CircuitBreakerSettings = field(default_factory=CircuitBreakerSettings)
    rate_limiting: RateLimitSettings = field(default_factory=RateLimitSettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
