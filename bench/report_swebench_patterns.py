"""The SWE-bench behaviour-pattern report: the table and figure in ``docs/patterns.md`` (a script, not a test).

Analyses the 250 mini-swe-agent runs on SWE-bench Verified with the default :class:`BehaviourConfig`, prints the
most significant patterns separating resolved from unresolved runs (variants covering the same runs shown once)
as a Markdown table, the clusters and the most anomalous runs, and draws ``docs/img/swebench_patterns.png``:
lift toward failure of the top patterns with their BH-corrected p-values.

Run: ``.venv/bin/python bench/report_swebench_patterns.py [--data PATH] [--figure PATH] [--top N]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine
from bench_patterns import DEFAULT_DATA
from escai.analysis.behaviour.analyser import (
    BehaviourAnalyser,
    BehaviourConfig,
    BehaviourReport,
    LabelledSession,
    separating_patterns,
)
from escai.analysis.behaviour.significance import PatternStatistics
from escai.ingest.importers import ImportedRun, read_runs

DEFAULT_FIGURE = Path(__file__).resolve().parents[1] / "docs" / "img" / "swebench_patterns.png"


def _label(pattern: PatternStatistics) -> str:
    return " → ".join(pattern.items)


def print_table(report: BehaviourReport, top: list[PatternStatistics]) -> None:
    """The top patterns as a Markdown table."""
    print("| pattern | support | failed with | success rate | lift toward failure | p | BH-corrected p |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for pattern in top:
        print(
            f"| `{_label(pattern)}` | {pattern.support} | {pattern.failure_support} | {pattern.success_rate:.0%} | "
            f"{pattern.lift_toward_failure:.2f} | {pattern.p_value:.1e} | {pattern.p_value_adjusted:.3f} |"
        )


def draw_figure(top: list[PatternStatistics], path: Path, base_failure: float) -> None:
    """Horizontal bars of lift toward failure, annotated with the corrected p-value."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(10, 0.45 * len(top) + 1.6))
    labels = [_label(pattern) for pattern in reversed(top)]
    lifts = [pattern.lift_toward_failure or 1.0 for pattern in reversed(top)]
    colours = ["#c0392b" if lift > 1 else "#2e86c1" for lift in lifts]
    axes.barh(labels, lifts, color=colours)
    axes.axvline(1.0, color="black", linewidth=0.8)
    for row, pattern in enumerate(reversed(top)):
        axes.text(
            (pattern.lift_toward_failure or 1.0) + 0.03,
            row,
            f"q={pattern.p_value_adjusted:.3f}, n={pattern.support}",
            va="center",
            fontsize=8,
        )
    axes.set_xlabel(
        f"lift toward failure = P(unresolved | pattern) / P(unresolved)   (P(unresolved) = {base_failure:.2f})"
    )
    axes.set_title("SWE-bench Verified (mini-swe-agent): patterns over-represented in unresolved runs", fontsize=10)
    axes.tick_params(axis="y", labelsize=8)
    axes.set_xlim(0, max(lifts) + 0.8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    """Analyse, print the report's figures, write the PNG."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--figure", type=Path, default=DEFAULT_FIGURE)
    parser.add_argument("--top", type=int, default=10)
    arguments = parser.parse_args()
    runs = [run for run in read_runs(arguments.data, "auto") if isinstance(run, ImportedRun)]
    sessions = [LabelledSession(run.session_id, run.events, run.annotations["labels"]["success"]) for run in runs]
    config = BehaviourConfig()
    started = time.perf_counter()
    report = BehaviourAnalyser(config).analyse(sessions)
    seconds = time.perf_counter() - started
    failed = sum(session.success is False for session in sessions)
    significant = [p for p in report.patterns if p.p_value_adjusted is not None and p.p_value_adjusted < 0.05]
    print(f"machine: {machine()}")
    print(f"{len(sessions)} runs, {failed} unresolved; analysis {seconds:.1f} s")
    print(
        f"{len(report.patterns)} {config.kind.value} patterns (support >= {config.min_support:.0%}, max gap "
        f"{config.max_gap}, length <= {config.max_length}); {len(significant)} with BH-corrected p < 0.05"
    )
    top = separating_patterns(report.patterns, arguments.top)
    print_table(report, top)
    print("\nstrongest patterns toward success:")
    print_table(report, separating_patterns(report.patterns, 3, direction="success"))
    if report.clustering is not None:
        print(f"\nclusters: k={report.clustering.k} by silhouette {report.clustering.silhouettes}")
        for cluster in report.clustering.clusters:
            characteristic = "; ".join(" → ".join(pattern.items) for pattern in cluster.patterns)
            print(f"- {cluster.description} Characteristic: {characteristic}")
    anomalous = sorted(report.session_anomalies.values(), key=lambda score: -score.score)
    print(f"\nanomalous runs (score > 0.5): {sum(score.is_anomalous for score in anomalous)}")
    outcome = {session.session_id: session.success for session in sessions}
    for score in anomalous[:3]:
        state = "resolved" if outcome[score.key] else "unresolved"
        print(f"- {score.key} ({state}): {score.explanation}")
    flagged = [score for score in anomalous if score.is_anomalous]
    if flagged:
        rate = sum(outcome[score.key] is False for score in flagged) / len(flagged)
        print(f"unresolved among anomalous runs: {rate:.0%} (all runs: {failed / len(sessions):.0%})")
    draw_figure(top, arguments.figure, failed / len(sessions))
    print(f"\nfigure: {arguments.figure}")


if __name__ == "__main__":
    main()
