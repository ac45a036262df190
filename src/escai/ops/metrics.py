"""Prometheus metrics of the ingest path and the API, on a registry owned by each app instance.

A registry per app (rather than the global default) lets tests and embedded servers create several apps in one
process without "duplicated timeseries" errors.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class IngestMetrics:
    """Counters, histograms and gauges of the ingest pipeline."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.events_received = Counter(
            "escai_ingest_events_received", "Events received, by source.", ["source"], registry=self.registry
        )
        self.events_stored = Counter(
            "escai_ingest_events_stored", "Events committed to storage.", registry=self.registry
        )
        self.events_rejected = Counter(
            "escai_ingest_events_rejected", "Events refused and dead-lettered.", ["source"], registry=self.registry
        )
        self.events_duplicate = Counter(
            "escai_ingest_events_duplicate", "Events already stored (same id).", registry=self.registry
        )
        self.events_filtered = Counter(
            "escai_ingest_events_filtered", "Events dropped on purpose by a filter.", registry=self.registry
        )
        self.batch_write_seconds = Histogram(
            "escai_ingest_batch_write_seconds",
            "Time to write one batch (one transaction).",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "escai_ingest_batch_size",
            "Events per written batch.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
            registry=self.registry,
        )
        self.queue_wait_seconds = Histogram(
            "escai_ingest_queue_wait_seconds",
            "Time events waited in the ingest queue before their batch was written.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.write_retries = Counter(
            "escai_ingest_write_retries", "Retried batch writes (transient errors).", registry=self.registry
        )
        self.write_failures = Counter(
            "escai_ingest_write_failures", "Batch writes that failed for good.", registry=self.registry
        )
        self.queue_depth = Gauge("escai_ingest_queue_depth", "Events waiting to be written.", registry=self.registry)
        self.request_seconds = Histogram(
            "escai_http_request_seconds",
            "HTTP request latency by route and status.",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.websocket_subscribers = Gauge(
            "escai_websocket_subscribers", "Open WebSocket subscriptions.", registry=self.registry
        )

    def render(self) -> bytes:
        """The metrics in Prometheus text exposition format."""
        return generate_latest(self.registry)
