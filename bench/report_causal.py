"""Causal discovery on real runs: PC over session features and pooled Granger over per-step series.

Reads the 250-run mini-swe-agent SWE-bench file and the 200-run tau-bench airline file from ``../shared/datasets``
(relative to the repository root), runs :func:`escai.analysis.causal.runner.discover` on each (the same code as
``POST /api/v1/analytics/causal/run``, without the database), prints every relationship with its strength and
confidence and the time taken, and writes ``docs/causal.md`` with the figures as printed.

    python bench/report_causal.py [--resamples 100] [--seed 0] [--max-lag 3] [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine
from escai.analysis.causal.discovery import PC_UNDIRECTED_METHOD, PcResult, PcSettings
from escai.analysis.causal.features import outcomes_from_annotations
from escai.analysis.causal.granger import GrangerResult, GrangerSettings
from escai.analysis.causal.runner import CausalRunSettings, discover
from escai.ingest.importers import ImportedRun, read_runs

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
FILES = {
    "SWE-bench Verified, mini-swe-agent (250 runs)": DATASETS
    / "mini_swe_agent_swebench_verified"
    / "trajectories.jsonl.gz",
    "tau-bench airline, GPT-4o (200 runs)": DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz",
}
DOC = ROOT / "docs" / "causal.md"


@dataclass(frozen=True, slots=True)
class DatasetReport:
    """What discovery found on one file, and how long each part took."""

    name: str
    runs: int
    successes: int
    read_seconds: float
    pc: PcResult
    granger: GrangerResult


def run_dataset(name: str, path: Path, settings: CausalRunSettings) -> DatasetReport:
    """Read one file and run both methods on it."""
    started = time.perf_counter()
    runs = [item for item in read_runs(path, "auto") if isinstance(item, ImportedRun)]
    read_seconds = time.perf_counter() - started
    sessions = {run.session_id: run.events for run in runs}
    outcomes = {run.session_id: outcomes_from_annotations(run.annotations) for run in runs}
    pc_result, granger_result = discover(sessions, outcomes, settings)
    assert pc_result is not None
    assert granger_result is not None
    return DatasetReport(
        name, len(runs), sum(1 for value in outcomes.values() if value), read_seconds, pc_result, granger_result
    )


def arrow(method: str) -> str:
    """How an edge of ``method`` is drawn in the tables."""
    return "—" if method == PC_UNDIRECTED_METHOD else "→"


def report_lines(report: DatasetReport, settings: CausalRunSettings) -> list[str]:
    """The figures of one dataset as Markdown (also what is printed)."""
    pc, granger = report.pc, report.granger
    lines = [
        f"### {report.name}",
        "",
        f"{report.runs} runs, {report.successes} successful; read in {report.read_seconds:.2f} s.",
        "",
        f"**PC** (Fisher-z on normal scores, alpha {settings.pc.alpha}, {pc.resamples} bootstrap resamples, "
        f"seed {settings.pc.seed}; {pc.failed_resamples} resamples could not run) over {pc.sessions} sessions and "
        f"the columns {', '.join(f'`{name}`' for name in pc.columns)}"
        + (
            f"; constant here and left out: {', '.join(f'`{name}`' for name in pc.dropped_columns)}"
            if pc.dropped_columns
            else ""
        )
        + f". Time: {pc.seconds:.2f} s.",
        "",
        "| edge | method | strength (partial corr.) | confidence (bootstrap) |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| `{item.cause}` {arrow(item.method)} `{item.effect}` | {item.method} | {item.strength:+.3f} | "
        f"{item.confidence:.2f} |"
        for item in pc.relationships
    ] or ["| (none) | | | |"]
    lines += [
        "",
        f"**Granger** (pooled over {granger.sessions} sessions with at least {settings.granger.max_lag + 2} actions, "
        f"lags 1-{settings.granger.max_lag} chosen by BIC, BH-corrected at {settings.granger.alpha}) over the series "
        f"{', '.join(f'`{name}`' for name in granger.series)}"
        + (
            f"; constant here: {', '.join(f'`{name}`' for name in granger.skipped_series)}"
            if granger.skipped_series
            else ""
        )
        + f". Time: {granger.seconds:.2f} s. All {len(granger.tests)} ordered pairs tested:",
        "",
        "| cause → effect | lag | F | p | q (BH) | strength (SD/SD) | rows | kept |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| `{test.cause}` → `{test.effect}` | {test.lag} | {test.f_statistic:.2f} | {test.p_value:.2g} | "
        f"{test.q_value:.2g} | {test.strength:+.3f} | {test.observations} | "
        f"{'yes' if test.q_value <= settings.granger.alpha else 'no'} |"
        for test in granger.tests
    ]
    return [*lines, ""]


def summary_lines(report: DatasetReport, settings: CausalRunSettings) -> list[str]:
    """What the graph says for one dataset, in sentences built from the figures (nothing is written by hand)."""
    lines = [f"**{report.name}.**"]
    into_outcome = [item for item in report.pc.relationships if item.effect == "outcome"]
    if into_outcome:
        lines.append(
            "Direct links to the outcome: "
            + "; ".join(
                f"`{item.cause}` (more of it goes with {'failure' if item.strength < 0 else 'success'}, "
                f"strength {item.strength:+.2f}, in {item.confidence:.0%} of resamples)"
                for item in into_outcome
            )
            + "."
        )
    else:
        lines.append("No feature is directly linked to the outcome once the others are accounted for.")
    stable = [item for item in report.pc.relationships if item.confidence >= 0.8 and item.effect != "outcome"]
    if stable:
        lines.append(
            "Stable links among the features (in at least 80 % of resamples): "
            + "; ".join(
                f"`{item.cause}` {arrow(item.method)} `{item.effect}` ({item.strength:+.2f})" for item in stable
            )
            + "."
        )
    kept = [test for test in report.granger.tests if test.q_value <= settings.granger.alpha]
    strongest = sorted(kept, key=lambda test: -abs(test.strength))[:3]
    if strongest:
        lines.append(
            f"Granger: {len(kept)} of {len(report.granger.tests)} ordered pairs are significant; the largest "
            "effects are "
            + "; ".join(
                f"`{test.cause}` → `{test.effect}` (lag {test.lag}, {test.strength:+.3f} SD per SD)"
                for test in strongest
            )
            + "."
        )
    else:
        lines.append(f"Granger: none of the {len(report.granger.tests)} ordered pairs is significant after correction.")
    return [" ".join(lines), ""]


def write_doc(reports: list[DatasetReport], settings: CausalRunSettings, command: str) -> None:
    """Write docs/causal.md: the method, the figures as printed, how to read them and the caveats."""
    figures = [line for report in reports for line in report_lines(report, settings)]
    says = ["## What the graph says", "", *(line for report in reports for line in summary_lines(report, settings))]
    text = [*_HEAD, f"    {command}", "", f"Machine: {machine()}.", "", *figures, *says, *_TAIL]
    DOC.write_text("\n".join(text) + "\n")


_HEAD = [
    "# Causal discovery across sessions",
    "",
    "ESCAI's causal engine has two cross-session methods (code in `src/escai/analysis/causal/`; the per-session",
    "event dependency graph and failure attribution are described in `attribution.md`).",
    "",
    "**PC over session features** (`discovery.py`, `features.py`). Each session becomes one row: `steps` (agent",
    "turns), `tool_errors`, `repeated_actions` (actions identical to an earlier one: same tool, same arguments),",
    "`reasoning_share` (share of the agent's own text written as thoughts or plans), `edits_before_test` (file edits",
    "before the first test or reproduction run), `tokens_per_step`, and `outcome` (counts on a log scale). Columns",
    "that are constant on a dataset are left out. Values are turned into rank-based normal scores and causal-learn's",
    "stable PC runs with the Fisher-z test (chi-square on tertiles is the alternative). The outcome is known only",
    "after the run, so edges out of `outcome` are forbidden (background knowledge); nothing else is assumed. An",
    "edge PC orients is stored with method `pc`; an adjacency it cannot orient (the data fit both directions) is",
    "stored as `pc-undirected` and drawn with —. *Strength* is the partial correlation of the two ends given the",
    "effect's other parents; *confidence* is the share of bootstrap resamples whose PC graph has the same edge (same",
    "orientation for `pc`, any orientation for `pc-undirected`).",
    "",
    "**Granger over per-step series** (`granger.py`). Each agent action (tool call or handoff) is a step with",
    "`tool_error` (its result failed), `repetition` (it repeats an earlier action), `reasoning` (log characters of",
    "thought before it), `step_tokens` (log tokens that led to it) and, when the session has been analysed, the",
    "epistemic `confidence`. For each ordered pair a pooled regression over all sessions (never across a session",
    "boundary) tests whether the cause's lags improve the prediction of the effect beyond the effect's own lags and",
    "the step position; every value is taken relative to its series' mean over the session's earlier steps, which",
    "removes a per-session level without leaking later values. The lag (1-3 actions) is chosen by BIC before the",
    "test; p-values are corrected with Benjamini-Hochberg. *Strength* is the sum of the cause's lag coefficients in",
    "standard deviations of the effect per standard deviation of the cause; *confidence* is 1 − q.",
    "",
    "Both run on stored sessions with `POST /api/v1/analytics/causal/run`; results are listed with",
    "`GET /api/v1/analytics/causal` (filters `method`, `session_id`, `min_confidence`; `format=json|graphml|cypher`).",
    "",
    "## Figures",
    "",
    "Produced by",
    "",
]

_TAIL = [
    "## How to read this",
    "",
    "- A `pc` edge X → Y means: given the other features, X and Y stay dependent, and the pattern of independences",
    "  among their neighbours is only consistent with X pointing at Y (or the edge points into `outcome`, which is",
    "  measured last). A `pc-undirected` edge says the dependence is direct but not which way it runs.",
    "- Edges into `outcome` are the features that carry information about success once the others are accounted",
    "  for. A negative strength means more of the feature goes with failure.",
    "- Session features are aggregates over a whole run, so the count features move together with run length:",
    "  much of what PC finds among `steps`, `tool_errors` and `repeated_actions` is the shape of a long run, and",
    "  their edges say that these measures are directly linked, not that one of them drives the others.",
    "- Granger relationships are about order within runs: X at one action predicts Y at the next actions. With",
    "  thousands of steps even a tiny predictive gain is significant, so read the strength column; a relationship",
    "  with q below 0.05 and a strength near zero is real but negligible.",
    "",
    "## Caveats",
    "",
    "- This is observational data. A hidden common cause (how hard the task is, how large the repository, what the",
    "  user asked) creates dependence between the features it drives; PC then draws an edge between them, and its",
    "  orientations are only valid if there are no hidden confounders (causal sufficiency), which is not the case",
    "  here. Treat the graph as a map of direct statistical links and of the directions the data do not rule out.",
    "- Fisher-z assumes linear (here: monotone, after the normal-score transform) relations; the binary outcome",
    "  makes the test an approximation. Bootstrap confidence measures stability under resampling, not truth: a",
    "  stable edge can still be confounded.",
    "- Granger causality is predictive precedence, not intervention. The earlier-steps mean removes additive",
    "  session levels, but with feedback (X depends on Y's past) short sessions can show a weak spurious reverse",
    "  effect of order 1/t; compare strengths when both directions of a pair appear.",
    "- Features are generic (event kinds, statuses, tool names, arguments). The edit and test detectors match",
    "  common coding-agent tools and shell commands; on other agents they are zero and the column is dropped.",
    "- Data: mini-swe-agent trajectories on SWE-bench Verified (MIT) and tau-bench historical trajectories (MIT);",
    "  see `../shared/datasets/*/SOURCE.md` for their origin.",
]


def main() -> None:
    """Run discovery on both datasets, print the figures and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-lag", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; do not rewrite docs/causal.md")
    arguments = parser.parse_args()
    settings = CausalRunSettings(
        pc=PcSettings(resamples=arguments.resamples, seed=arguments.seed),
        granger=GrangerSettings(max_lag=arguments.max_lag),
    )
    print(f"machine: {machine()}")
    reports = []
    for name, path in FILES.items():
        if not path.exists():
            raise SystemExit(f"missing dataset {path}")
        report = run_dataset(name, path, settings)
        reports.append(report)
        print("\n".join(report_lines(report, settings)))
    command = (
        f"python bench/report_causal.py --resamples {arguments.resamples} --seed {arguments.seed} "
        f"--max-lag {arguments.max_lag}"
    )
    if not arguments.no_write:
        write_doc(reports, settings, command)
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
