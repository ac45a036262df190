"""The mixins, one layer class each, and the function that stacks a node's layers in ``MIXINS`` order."""

from __future__ import annotations

from collections.abc import Sequence

from escai.nodes.kinds import MIXINS
from escai.nodes.mixins.caching import CacheLayer
from escai.nodes.mixins.events import EventPublishingLayer, analysis_name
from escai.nodes.mixins.layer import CallStats, Layer, NodeHandle, Proceed
from escai.nodes.mixins.observability import HealthLayer, LoggingLayer, MetricsLayer, NodeMetrics, node_metrics
from escai.nodes.mixins.resilience import (
    CircuitBreakerLayer,
    CircuitState,
    RateLimitLayer,
    RetryLayer,
    TimeoutLayer,
    backoff_delay,
)
from escai.nodes.mixins.transaction import (
    Compensation,
    TransactionLayer,
    UnitOfWork,
    current_unit_of_work,
    open_unit_of_work,
)
from escai.nodes.mixins.validation import ValidationLayer, validate_output_strictly

__all__ = [
    "CacheLayer",
    "CallStats",
    "CircuitBreakerLayer",
    "CircuitState",
    "Compensation",
    "EventPublishingLayer",
    "HealthLayer",
    "Layer",
    "LoggingLayer",
    "MetricsLayer",
    "NodeHandle",
    "NodeMetrics",
    "Proceed",
    "RateLimitLayer",
    "RetryLayer",
    "TimeoutLayer",
    "TransactionLayer",
    "UnitOfWork",
    "ValidationLayer",
    "analysis_name",
    "backoff_delay",
    "build_layers",
    "current_unit_of_work",
    "node_metrics",
    "open_unit_of_work",
    "validate_output_strictly",
]


def build_layers(node: NodeHandle, mixins: Sequence[str], stats: CallStats) -> list[Layer]:
    """Return one layer per enabled mixin, outermost first (the order of ``MIXINS``, whatever order was given)."""
    enabled = set(mixins)
    layers: list[Layer] = []
    for name in MIXINS:
        if name not in enabled:
            continue
        layer: Layer
        match name:
            case "logging":
                layer = LoggingLayer(node)
            case "metrics":
                layer = MetricsLayer(node)
            case "health_check":
                layer = HealthLayer(node, stats)
            case "rate_limiting":
                layer = RateLimitLayer(node)
            case "circuit_breaker":
                layer = CircuitBreakerLayer(node)
            case "timeout":
                layer = TimeoutLayer(node)
            case "retry":
                layer = RetryLayer(node, stats)
            case "validation":
                layer = ValidationLayer(node)
            case "caching":
                layer = CacheLayer(node)
            case "transaction":
                layer = TransactionLayer(node)
            case _:
                layer = EventPublishingLayer(node)
        layers.append(layer)
    return layers
