"""Speed of knowledge extraction (``extract_facts``) on real runs: events/s, facts/s and per-event latency.

Reads the 250-run mini-swe-agent SWE-bench file and the tau-bench airline file from ``../shared/datasets``
(relative to the repository root) with the project's importers (not timed), then calls ``extract_facts`` on every
event of every run, as the live tracker does, and reports:

- events/s over all events of the file (most are not tool results and return at once, as on the live path),
- facts/s, and tool results (events that report on the world) per second,
- p50/p95/p99/max latency per event, over all events and over world-reporting events alone.

Each figure is the median of ``--repeat`` passes; events/s is also given by process CPU time, which other work on
a shared machine disturbs less than wall time. Two modes are timed: ``event+call`` passes the tool call each
result answers (its parent or the call with the same call id), ``event only`` passes the result alone.

    python bench/bench_knowledge.py [--repeat 3] [--file PATH ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine
from escai.analysis.epistemic.knowledge import extract_facts, reports_on_world
from escai.ingest.importers import ImportedRun, read_runs
from escai.model.events import AgentEvent, EventType
from escai.model.semconv import GEN_AI_TOOL_CALL_ID

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
DEFAULT_FILES = (
    DATASETS / "mini_swe_agent_swebench_verified" / "trajectories.jsonl.gz",
    DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz",
)

Pair = tuple[AgentEvent, AgentEvent | None]


@dataclass(frozen=True, slots=True)
class Pass:
    """One timed pass over a file's events."""

    seconds: float
    cpu_seconds: float
    """Process CPU time: less disturbed than wall time by other work on a shared machine."""
    facts: int
    latencies: list[float]
    world_latencies: list[float]


def load_pairs(path: Path) -> tuple[int, list[Pair]]:
    """The file's runs and every event paired with the tool call it answers (None for other events)."""
    runs = 0
    pairs: list[Pair] = []
    for item in read_runs(path, "auto"):
        if not isinstance(item, ImportedRun):
            continue
        runs += 1
        by_id = {event.id: event for event in item.events}
        calls: dict[str, AgentEvent] = {}
        for event in item.events:
            call_id = event.attributes.get(GEN_AI_TOOL_CALL_ID)
            if event.type is EventType.TOOL_CALL:
                if isinstance(call_id, str):
                    calls[call_id] = event
                pairs.append((event, None))
                continue
            # The parent first: some logs reuse one call id for several calls.
            parent = by_id.get(event.parent_id or "")
            call = parent if parent is not None and parent.type is EventType.TOOL_CALL else None
            if call is None and isinstance(call_id, str):
                call = calls.get(call_id)
            pairs.append((event, call))
    return runs, pairs


def time_pass(pairs: list[Pair], *, with_call: bool) -> Pass:
    """Extract the facts of every event once, timing each call."""
    latencies: list[float] = []
    world: list[float] = []
    facts = 0
    clock = time.perf_counter
    started, started_cpu = clock(), time.process_time()
    for event, call in pairs:
        before = clock()
        facts += len(extract_facts(event, call=call if with_call else None))
        elapsed = clock() - before
        latencies.append(elapsed)
        if reports_on_world(event):
            world.append(elapsed)
    return Pass(clock() - started, time.process_time() - started_cpu, facts, latencies, world)


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(name: str, passes: list[Pass], events: int) -> None:
    """Print the median figures of several passes."""
    seconds = statistics.median(item.seconds for item in passes)
    cpu_seconds = statistics.median(item.cpu_seconds for item in passes)
    facts = passes[0].facts
    world = len(passes[0].world_latencies)

    def microseconds(values_of: str, fraction: float) -> float:
        return statistics.median(percentile(getattr(item, values_of), fraction) for item in passes) * 1e6

    print(
        f"  {name:<11} {events / seconds:>9,.0f} events/s  {facts / seconds:>9,.0f} facts/s  "
        f"{world / seconds:>8,.0f} results/s  ({seconds:.3f} s wall; by CPU time {events / cpu_seconds:,.0f} events/s)"
    )
    for label, values_of in (("all events", "latencies"), ("results", "world_latencies")):
        print(
            f"  {'':<11} per event, {label:<10}: p50 {microseconds(values_of, 0.5):7.1f} us  "
            f"p95 {microseconds(values_of, 0.95):7.1f} us  p99 {microseconds(values_of, 0.99):7.1f} us  "
            f"max {microseconds(values_of, 1.0) / 1000:6.2f} ms"
        )


def main() -> None:
    """Parse the options, load each file, and time extraction with and without the matching tool call."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, action="append", help="A data file (repeatable; default: both).")
    parser.add_argument("--repeat", type=int, default=3, help="Passes per mode; the median is reported.")
    options = parser.parse_args()
    files = options.file or list(DEFAULT_FILES)
    missing = [path for path in files if not path.is_file()]
    if missing:
        raise SystemExit(f"data file not found: {missing[0]} (the shared data sets are not installed)")
    print(f"machine: {machine()}")
    for path in files:
        runs, pairs = load_pairs(path)
        world = sum(reports_on_world(event) for event, _call in pairs)
        print(f"file: {path.name}: {runs} runs, {len(pairs)} events, {world} report on the world")
        for name, with_call in (("event+call", True), ("event only", False)):
            time_pass(pairs, with_call=with_call)  # warm-up: compiled patterns, caches
            passes = [time_pass(pairs, with_call=with_call) for _ in range(options.repeat)]
            report(name, passes, len(pairs))


if __name__ == "__main__":
    main()
