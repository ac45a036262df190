"""Time failure attribution of one 100-step session, and the whole Who&When evaluation (a script, not a test).

The 100-step session is real text: the ``history`` entries of Who&When logs laid end to end until there are 100
(agents, code blocks and executor replies as they were), imported with the Who&When importer. Timed: the three
label-free methods with their fusion (:func:`attribute_failure`), then the same plus a learned ranker trained on
the Who&When logs, then :func:`build_dependency_graph` alone. Each figure is the median of ``--runs`` runs. Last,
the wall time of ``evaluate_attribution`` over all the logs (5-fold cross-fitting included).

Run: ``.venv/bin/python bench/bench_attribution.py [--steps 100] [--runs 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATASETS, machine
from escai.analysis.causal.attribution import LearnedRanker, attribute_failure, build_session_view
from escai.analysis.causal.attribution.evaluate import collect_labelled_runs, evaluate_attribution
from escai.analysis.causal.dependency import build_dependency_graph
from escai.ingest.importers import ImportItem, read_runs
from escai.ingest.importers.who_and_when import convert
from escai.model.events import AgentEvent

LOGS = DATASETS / "who_and_when" / "Algorithm-Generated"


def long_session(steps: int) -> list[AgentEvent]:
    """A ``steps``-entry session made of Who&When histories laid end to end."""
    history: list[dict[str, object]] = []
    for path in sorted(LOGS.glob("*.json"), key=lambda item: int(item.stem)):
        history.extend(json.loads(path.read_text())["history"])
        if len(history) >= steps:
            break
    record = {"question_ID": "bench-long", "question": "A long benchmark session.", "history": history[:steps]}
    return convert(record, "bench").events


def median_seconds(action: Callable[[], object], runs: int) -> float:
    """Median wall time of ``runs`` calls of ``action``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print the timings and the machine."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    if not LOGS.is_dir():
        raise SystemExit(f"Who&When logs not found at {LOGS}")
    events = long_session(arguments.steps)
    items: list[ImportItem] = []
    for path in sorted(LOGS.glob("*.json")):
        items.extend(read_runs(path, "who-and-when"))
    runs, _ = collect_labelled_runs(items)
    ranker = LearnedRanker.train([build_session_view(run.events) for run in runs], [run.mistake_step for run in runs])
    print(f"machine: {machine()}")
    print(f"session: {arguments.steps} steps, {len(events)} events (Who&When text)")
    label_free = median_seconds(lambda: attribute_failure(events), arguments.runs)
    print(f"attribute_failure, label-free methods + fusion: {label_free * 1000:.1f} ms (median of {arguments.runs})")
    with_ranker = median_seconds(lambda: attribute_failure(events, ranker=ranker), arguments.runs)
    print(f"attribute_failure, with the learned ranker:     {with_ranker * 1000:.1f} ms (median of {arguments.runs})")
    graph = median_seconds(lambda: build_dependency_graph(events), arguments.runs)
    print(f"build_dependency_graph alone:                   {graph * 1000:.1f} ms (median of {arguments.runs})")
    start = time.perf_counter()
    evaluate_attribution(runs)
    print(f"evaluate_attribution over {len(runs)} Who&When logs (5-fold): {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
