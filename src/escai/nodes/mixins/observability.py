"""Logging (with a correlation id that follows the call), Prometheus metrics and health-check mixins."""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel

from escai.nodes.mixins.layer import CallStats, NodeHandle, Proceed
from escai.ops.logging import EscaiLogger, get_correlation_id, get_logger, log_context, new_correlation_id

__all__ = ["HealthLayer", "LoggingLayer", "MetricsLayer", "NodeMetrics", "node_metrics"]


class LoggingLayer:
    """Log start, end and failure of each call with a correlation id bound for everything the call does.

    A call that already runs under a correlation id (an orchestrator's step, a request) keeps it, so one id
    follows a whole workflow through every nested node and every log line.
    """

    name = "logging"

    def __init__(self, node: NodeHandle) -> None:
        """Use the context's logger, or the ``escai.nodes`` logger."""
        self._node = node
        self._logger: EscaiLogger = node.context.logger or get_logger("escai.nodes", component="nodes")

    async def invoke(self, data: BaseModel, proceed: Proceed) -> BaseModel:
        """Bind ``correlation_id`` and ``node`` for the call and log its outcome and duration."""
        correlation_id = get_correlation_id() or new_correlation_id()
        async with log_context(correlation_id=correlation_id, node=self._node.node_name):
            started = time.perf_counter()
            self._logger.debug("node.started", kind=self._node.node_kind.value)
            try:
                result = await proceed(data)
            except BaseException as error:
                self._logger.warning(
                    "node.failed",
                    error_type=type(error).__name__,
                    error=str(error),
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                )
                raise
            self._logger.info("node.finished", duration_ms=round((time.perf_counter() - started) * 1000, 3))
            return result


@dataclass(frozen=True, slots=True)
class NodeMetrics:
    """The node metrics of one registry: calls by outcome and call duration, labelled by node."""

    calls: Counter
    duration: Histogram


# Registering the same metric name twice in one registry fails, so every node sharing a registry shares these.
_METRICS_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, NodeMetrics] = weakref.WeakKeyDictionary()


def node_metrics(registry: CollectorRegistry) -> NodeMetrics:
    """Return the node metrics registered in ``registry``, registering them on first use."""
    metrics = _METRICS_BY_REGISTRY.get(registry)
    if metrics is None:
        metrics = NodeMetrics(
            calls=Counter(
                "escai_node_calls",
                "Calls of ESCAI nodes by outcome (ok or the exception type).",
                ["node", "kind", "outcome"],
                registry=registry,
            ),
            duration=Histogram(
                "escai_node_duration_seconds",
                "Duration of ESCAI node calls, mixins included.",
                ["node", "kind"],
                registry=registry,
            ),
        )
        _METRICS_BY_REGISTRY[registry] = metrics
    return metrics


class MetricsLayer:
    """Count calls by outcome and time them, in the context's registry or a private one."""

    name = "metrics"

    def __init__(self, node: NodeHandle) -> None:
        """Register (or reuse) the node metrics in the chosen registry."""
        self._node = node
        self.registry = node.context.registry or CollectorRegistry()
        self._metrics = node_metrics(self.registry)

    async def invoke(self, data: BaseModel, proceed: Proceed) -> BaseModel:
        """Observe duration and outcome of the call."""
        labels = {"node": self._node.node_name, "kind": self._node.node_kind.value}
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await proceed(data)
        except BaseException as error:
            outcome = type(error).__name__
            raise
        finally:
            self._metrics.duration.labels(**labels).observe(time.perf_counter() - started)
            self._metrics.calls.labels(outcome=outcome, **labels).inc()


class HealthLayer:
    """Keep calls, failures and the last error for ``node.health()``."""

    name = "health_check"

    def __init__(self, node: NodeHandle, stats: CallStats) -> None:
        """Write into the node's shared ``stats``."""
        self._node = node
        self._stats = stats

    async def invoke(self, data: BaseModel, proceed: Proceed) -> BaseModel:
        """Count the call and remember its failure, if any."""
        self._stats.calls += 1
        try:
            result = await proceed(data)
        except Exception as error:
            self._stats.failures += 1
            self._stats.last_error = f"{type(error).__name__}: {error}"
            self._stats.last_error_at = time.time()
            raise
        self._stats.successes += 1
        self._stats.last_success_at = time.time()
        return result
