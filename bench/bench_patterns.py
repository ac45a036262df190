"""Time of behaviour-pattern mining over the 250-run SWE-bench file (a script, not a test).

Reads ``mini_swe_agent_swebench_verified/trajectories.jsonl.gz``, then times, each as the median of ``--runs``
runs: abstraction of the runs into step sequences, PrefixSpan mining with the default settings (closed patterns,
support 10 %, max gap 2, length up to 5) plus Fisher tests and Benjamini-Hochberg correction, and the whole
analyser (patterns, anomalies, loops and clusters). The issue's target is mining in under 60 s.

Run: ``.venv/bin/python bench/bench_patterns.py [--runs R] [--data PATH]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine
from escai.analysis.behaviour.analyser import BehaviourAnalyser, BehaviourConfig, LabelledSession
from escai.analysis.behaviour.prefixspan import mine_patterns
from escai.analysis.behaviour.sequences import abstract_session
from escai.analysis.behaviour.significance import score_patterns
from escai.ingest.importers import ImportedRun, read_runs

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "datasets"
    / "mini_swe_agent_swebench_verified"
    / "trajectories.jsonl.gz"
)


def main() -> None:
    """Time the stages and print one line each, with the machine."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    arguments = parser.parse_args()
    started = time.perf_counter()
    runs = [run for run in read_runs(arguments.data, "auto") if isinstance(run, ImportedRun)]
    sessions = [LabelledSession(run.session_id, run.events, run.annotations["labels"]["success"]) for run in runs]
    read_seconds = time.perf_counter() - started
    config = BehaviourConfig()
    timings: dict[str, list[float]] = {"abstract": [], "mine+test": [], "full analysis": []}
    patterns = 0
    for _ in range(arguments.runs):
        started = time.perf_counter()
        sequences = [abstract_session(session.events, success=session.success) for session in sessions]
        timings["abstract"].append(time.perf_counter() - started)
        started = time.perf_counter()
        mined = mine_patterns(
            [sequence.actions for sequence in sequences],
            config.absolute_support(len(sequences)),
            max_gap=config.max_gap,
            max_length=config.max_length,
            kind=config.kind,
        )
        patterns = len(score_patterns(mined, [sequence.success for sequence in sequences]))
        timings["mine+test"].append(time.perf_counter() - started)
        started = time.perf_counter()
        BehaviourAnalyser(config).analyse(sessions)
        timings["full analysis"].append(time.perf_counter() - started)
    print(f"machine: {machine()}")
    print(f"data: {arguments.data.name}: {len(sessions)} runs, {sum(len(s.events) for s in sessions)} events")
    print(f"read file: {read_seconds:.2f} s")
    print(f"settings: {config.kind.value} patterns, support {config.min_support:.0%}, max gap {config.max_gap}, "
          f"length <= {config.max_length}; {patterns} patterns")  # fmt: skip
    for stage, values in timings.items():
        print(f"{stage}: {statistics.median(values):.2f} s (median of {len(values)})")
    verdict = (
        "meets" if statistics.median(timings["abstract"]) + statistics.median(timings["mine+test"]) < 60 else "misses"
    )
    print(f"abstract + mine + test {verdict} the 60 s target")


if __name__ == "__main__":
    main()
