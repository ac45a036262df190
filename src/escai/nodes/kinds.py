"""The four ONEX node kinds and the mixin names in their composition order."""

from __future__ import annotations

import enum

__all__ = ["MIXINS", "NodeKind"]


class NodeKind(enum.StrEnum):
    """What a node does; the values are the strings stored in the seed tables (``mixin_compatibility_matrix``)."""

    EFFECT = "effect"
    """External I/O (HTTP, database, files); may run inside a transaction."""
    COMPUTE = "compute"
    """A pure, deterministic function of its input; purity is checked."""
    REDUCER = "reducer"
    """Folds items into persisted state; replaying an item does not change the state."""
    ORCHESTRATOR = "orchestrator"
    """Runs other nodes as a workflow and compensates completed steps when a later one fails."""


MIXINS: tuple[str, ...] = (
    "logging",
    "metrics",
    "health_check",
    "rate_limiting",
    "circuit_breaker",
    "timeout",
    "retry",
    "validation",
    "caching",
    "transaction",
    "event_publishing",
)
"""Every mixin name, outermost first: a node applies its mixins around ``execute`` in exactly this order.

Why this order: logging and metrics see every call, including rejected ones; health sees what callers see;
rate limiting and the circuit breaker reject before any work or waiting; the timeout bounds the whole retry loop
(so a caller's deadline holds); retry repeats only the inner work; validation checks each attempt's output;
a cache hit skips the transaction and the event (nothing happened); the transaction commits before the event is
published, so subscribers never hear of work that was rolled back.
"""
