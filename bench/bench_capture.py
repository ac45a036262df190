"""Capture cost on the calling thread: ``Recorder.emit`` beside an OpenTelemetry span, in the same run.

ESCAI: ``recorder.emit(...)`` of a ``tool_call`` with content, name, a parent id and a fresh two-item attribute
dict, on a recorder whose background thread is running and hands the batches to an exporter that discards them
(what the exporter then does happens on other threads and is the subject of ``bench_slow_server.py``).

OpenTelemetry: ``tracer.start_span(name, attributes={...})`` then ``span.end()`` with the SDK's
``TracerProvider`` and a ``BatchSpanProcessor`` exporting to an exporter that discards the spans: the cheapest
honest OpenTelemetry equivalent of recording one step.

Each call is timed on its own with ``perf_counter_ns`` (the cost of the timer itself, measured the same way, is
subtracted), in rounds that alternate between the two so that load on the machine hits both alike. Prints the
machine, median and p99 nanoseconds per call for each, and the ratio of the medians.

Run: ``.venv/bin/python bench/bench_capture.py [--rounds R] [--calls N]``
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from _common import machine
from escai.model.events import EventType
from escai.sdk.recorder import Recorder
from escai.sdk.wire import Batch


class DiscardingExporter:
    """ESCAI exporter that drops every batch (the cost of sending is not on the calling thread)."""

    def __init__(self) -> None:
        self.events = 0

    def export(self, batch: Batch) -> None:
        """Count and forget."""
        self.events += len(batch)

    def shutdown(self, timeout: float) -> None:
        """Nothing to release."""


class DiscardingSpanExporter(SpanExporter):
    """OpenTelemetry exporter that drops every batch."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Accept and forget."""
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""


def time_calls(call: Callable[[int], object], count: int, samples: list[int]) -> None:
    """Time ``count`` calls one by one and append each duration in nanoseconds."""
    clock = time.perf_counter_ns
    append = samples.append
    for index in range(count):
        started = clock()
        call(index)
        append(clock() - started)


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of sorted ``values``."""
    return values[min(len(values) - 1, int(fraction * len(values)))]


def main() -> None:
    """Measure both, alternating rounds, and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=5000)
    arguments = parser.parse_args()

    exporter = DiscardingExporter()
    recorder = Recorder(exporter, default_session_id="bench", default_agent_id="bench-agent", register_atexit=False)
    provider = TracerProvider()
    processor = BatchSpanProcessor(DiscardingSpanExporter())
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    content = '{"query": "hubble launch date"}'
    parent = recorder.emit(EventType.AGENT_START, "agent run")

    def escai_call(index: int) -> object:
        return recorder.emit(
            EventType.TOOL_CALL,
            content,
            name="web_search",
            attributes={"gen_ai.tool.name": "web_search", "step": index},
            parent_id=parent,
        )

    def otel_call(index: int) -> object:
        span = tracer.start_span("web_search", attributes={"gen_ai.tool.name": "web_search", "step": index})
        span.end()
        return span

    def nothing(index: int) -> object:
        return index

    for call in (escai_call, otel_call, nothing):  # warm up caches and code paths
        time_calls(call, 2000, [])
    gc.collect()
    escai: list[int] = []
    otel: list[int] = []
    timer: list[int] = []
    for _ in range(arguments.rounds):
        time_calls(escai_call, arguments.calls, escai)
        time_calls(otel_call, arguments.calls, otel)
        time_calls(nothing, arguments.calls, timer)
    recorder.shutdown(10)
    provider.shutdown()

    overhead = statistics.median(timer)
    results = {}
    for label, samples in (("escai Recorder.emit", escai), ("otel start_span+end", otel)):
        net = sorted(max(0.0, sample - overhead) for sample in samples)
        results[label] = (statistics.median(net), percentile(net, 0.99))
    print(f"machine: {machine()}")
    print(
        f"calls: {len(escai)} each, {arguments.rounds} alternating rounds; timer overhead {overhead:.0f} ns subtracted"
    )
    for label, (median, p99) in results.items():
        print(f"{label:22s} median {median:8.0f} ns   p99 {p99:8.0f} ns")
    escai_median = results["escai Recorder.emit"][0]
    otel_median = results["otel start_span+end"][0]
    print(f"ratio (otel / escai, medians): {otel_median / escai_median:.1f}x")
    print(f"escai events exported by the background thread: {exporter.events}, dropped: {recorder.dropped}")


if __name__ == "__main__":
    main()
