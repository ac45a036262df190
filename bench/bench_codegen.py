"""Parallel vs sequential generation + validation of every node of the example PRDs (issue 7, part 4).

Parses every PRD in ``examples/prd`` (three, seven nodes), then generates and validates all their nodes with
:func:`escai.codegen.pipeline.generate_many` at ``workers=1`` (sequential), 2 and 4, ``--repeats`` times each
(median reported), each repeat into a fresh directory with a fresh template cache. Validation is the full
validator (ruff format/check, mypy --strict, import, pytest) in subprocesses, so the work is CPU-bound: on a
machine with N cores the speedup cannot exceed N, and other load on the machine lowers it. Prints the machine,
per-configuration wall times, the speedup over workers=1, and the median per-phase CPU time of one node.

    .venv/bin/python bench/bench_codegen.py [--repeats 3] [--workers 1,2,4] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine
from escai.codegen.pipeline import generate_many
from escai.codegen.prd import parse_prd
from escai.codegen.spec import GenerationSpec, build_spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "prd"


def load_specs() -> list[GenerationSpec]:
    """The specs of every example PRD, sorted by file name."""
    return [build_spec(parse_prd(path.read_text(encoding="utf-8"))) for path in sorted(EXAMPLES.glob("*.md"))]


def measure(specs: list[GenerationSpec], workers: int) -> tuple[float, dict[str, float], bool]:
    """One run: wall seconds, summed per-phase milliseconds over nodes, and whether every node passed."""
    with tempfile.TemporaryDirectory(prefix="escai-bench-codegen-") as directory:
        started = time.perf_counter()
        reports = generate_many(specs, directory, workers=workers)
        wall = time.perf_counter() - started
    phases: dict[str, float] = {}
    for report in reports:
        for node in report.nodes:
            for phase, value in node.timings_ms.items():
                phases[phase] = phases.get(phase, 0.0) + value
    return wall, phases, all(report.ok for report in reports)


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated; the first is the base")
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    counts = [int(value) for value in arguments.workers.split(",")]
    specs = load_specs()
    nodes = sum(len(spec.nodes) for spec in specs)
    results: dict[int, dict[str, object]] = {}
    for count in counts:
        walls: list[float] = []
        phase_runs: list[dict[str, float]] = []
        for _ in range(arguments.repeats):
            wall, phases, ok = measure(specs, count)
            if not ok:
                raise SystemExit(f"a node failed validation with workers={count}; the timing would not be honest")
            walls.append(wall)
            phase_runs.append(phases)
        results[count] = {
            "median_s": statistics.median(walls),
            "runs_s": [round(wall, 2) for wall in walls],
            "phase_ms_per_node": {
                phase: round(statistics.median(run[phase] for run in phase_runs) / nodes, 1) for phase in phase_runs[0]
            },
        }
    base = float(results[counts[0]]["median_s"])  # type: ignore[arg-type]
    summary = {
        "machine": machine(),
        "cpu_count": os.cpu_count(),
        "prds": len(specs),
        "nodes": nodes,
        "repeats": arguments.repeats,
        "configurations": {
            str(count): {**values, "speedup": round(base / float(values["median_s"]), 2)}  # type: ignore[arg-type]
            for count, values in results.items()
        },
    }
    if arguments.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"machine: {summary['machine']}")
    print(f"{len(specs)} PRDs, {nodes} nodes, generate + full validation, median of {arguments.repeats}")
    print(f"{'workers':>8} {'median s':>9} {'speedup':>8}  runs")
    for count, values in summary["configurations"].items():  # type: ignore[attr-defined]
        print(f"{count:>8} {values['median_s']:>9.2f} {values['speedup']:>7.2f}x  {values['runs_s']}")
    phases = results[counts[0]]["phase_ms_per_node"]
    print(f"per node at workers={counts[0]} (ms): " + ", ".join(f"{key} {value}" for key, value in phases.items()))  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
