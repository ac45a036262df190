"""Epistemic extraction speed: batch throughput (light and MiniLM) and the live update latency per event.

Batch: every run of the 250-run SWE-bench file goes through ``extract_timeline`` (events/s, the model loaded before
timing). Live: an embedded ESCAI service (SQLite in a temporary folder, live analysis on) ingests runs of the same
file at a steady rate, as agents would send them; for every event the latency from its storage notice on the bus to
its ``analysis.result`` publication is measured (queueing included), and so is the worker's own processing time.

    python bench/bench_epistemic.py [--runs N] [--rate EVENTS_PER_S] [--skip-minilm]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from _common import DATASETS, machine
from escai.analysis.epistemic.extractor import extract_timeline
from escai.analysis.text import MiniLmEmbedder, load_embedder
from escai.bus.base import ChangeKind
from escai.ingest.importers import ImportedRun, read_runs
from escai.service import EscaiService
from escai.settings import Settings

SWE_BENCH = DATASETS / "mini_swe_agent_swebench_verified" / "trajectories.jsonl.gz"


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def batch_throughput(runs: list[ImportedRun], method: str) -> tuple[float, int]:
    """Events/s of batch extraction over ``runs`` and the number of events."""
    embedder = load_embedder(method)  # type: ignore[arg-type]
    embedder.embed(["warm up the model before timing"])
    events = sum(len(run.events) for run in runs)
    started = time.perf_counter()
    for run in runs:
        extract_timeline(run.events, embedder)
    return events / (time.perf_counter() - started), events


async def live_latency(runs: list[ImportedRun], rate: float, home: Path) -> dict[str, float]:
    """Ingest ``runs`` at ``rate`` events/s through an embedded service; latency of each analysis update."""
    settings = Settings(home=home, analysis_live=True, analysis_method="light", pii_masking=False)
    service = EscaiService(settings)
    await service.start()
    stored_at: dict[str, float] = {}
    latencies: list[float] = []
    events_stored = service.bus.subscribe(lambda change: change.kind is ChangeKind.EVENT_STORED, buffer=1_000_000)
    results = service.bus.subscribe(lambda change: change.kind is ChangeKind.ANALYSIS_RESULT, buffer=1_000_000)

    async def collect_stored() -> None:
        async for change in events_stored:
            stored_at[change.payload.id] = change.published_at

    async def collect_results() -> None:
        async for change in results:
            event_id = change.payload["event_id"]
            if event_id in stored_at:
                latencies.append(change.published_at - stored_at[event_id])

    collectors = [asyncio.create_task(collect_stored()), asyncio.create_task(collect_results())]
    chunk = 10
    events = [event for run in runs for event in run.events]
    started = time.perf_counter()
    for offset in range(0, len(events), chunk):
        await service.pipeline.ingest(events[offset : offset + chunk], source="bench")
        due = started + (offset + chunk) / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
    await asyncio.sleep(2.0)
    worker = service.analysis
    assert worker is not None
    processing = list(worker.update_seconds)
    await events_stored.close()
    await results.close()
    for task in collectors:
        task.cancel()
    await service.stop()
    return {
        "events": float(len(events)),
        "updates": float(len(latencies)),
        "latency_p50_ms": 1000 * statistics.median(latencies),
        "latency_p95_ms": 1000 * percentile(latencies, 0.95),
        "latency_p99_ms": 1000 * percentile(latencies, 0.99),
        "processing_p95_ms": 1000 * percentile(processing, 0.95),
    }


def main() -> None:
    """Run the benchmarks and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=250, help="runs of the SWE-bench file for the batch figures")
    parser.add_argument("--live-runs", type=int, default=20)
    parser.add_argument("--rate", type=float, default=500.0, help="events/s sent in the live test")
    parser.add_argument("--skip-minilm", action="store_true")
    options = parser.parse_args()
    print(machine())
    runs = [run for _, run in zip(range(options.runs), read_runs(SWE_BENCH, "auto"), strict=False)]
    light, events = batch_throughput(runs, "light")
    print(f"batch, light method: {light:,.0f} events/s over {events:,} events ({len(runs)} runs)")
    if not options.skip_minilm and MiniLmEmbedder.available():
        minilm, _ = batch_throughput(runs, "minilm")
        print(f"batch, MiniLM:       {minilm:,.0f} events/s over {events:,} events")
    with tempfile.TemporaryDirectory() as home:
        figures = asyncio.run(live_latency(runs[: options.live_runs], options.rate, Path(home)))
    print(
        f"live at {options.rate:.0f} events/s: {figures['updates']:.0f} updates for {figures['events']:.0f} events; "
        f"stored->analysed p50 {figures['latency_p50_ms']:.2f} ms, p95 {figures['latency_p95_ms']:.2f} ms, "
        f"p99 {figures['latency_p99_ms']:.2f} ms; worker processing p95 {figures['processing_p95_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
