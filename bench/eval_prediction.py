"""Evaluate success prediction on the judged data sets and write the figures into ``docs/prediction.md``.

For tau-bench airline and SWE-bench (mini-swe-agent) this runs what ``escai eval prediction PATH --format F
--folds 5 --json`` runs (the same reading and evaluation functions), prints each JSON object, draws a calibration
plot per data set (``docs/img/calibration_<name>.png``) and replaces the text between the ``figures`` markers of
``docs/prediction.md`` with tables of the figures beside the baselines.

    python bench/eval_prediction.py [--folds 5] [--seed 0] [--no-write]
    python bench/eval_prediction.py --ablation [--seeds 3] [--no-write]

``--ablation`` compares feature-group sets instead: each set is evaluated by the same grouped cross-validation
with ``--seeds`` different fold splits (seeds 0, 1, ...), and the mean and spread of the AUROCs go between the
``ablation`` markers of ``docs/prediction.md``. The group sets are fixed here, not searched.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: no display on servers
import matplotlib.pyplot as plt

from _common import DATASETS, machine
from escai.analysis.predict.dataset import OutcomeRun
from escai.analysis.predict.evaluate import CUTS, PredictionReport, Scores, evaluate_prediction
from escai.analysis.predict.features import DEFAULT_GROUPS
from escai.analysis.predict.training import TrainingOptions
from escai.cli.eval_prediction import read_outcome_runs

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "prediction.md"
IMAGES = ROOT / "docs" / "img"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
ABLATION_START, ABLATION_END = "<!-- ablation:start -->", "<!-- ablation:end -->"
STRUCTURAL = ("events", "text", "actions")
ABLATION_SETS: tuple[tuple[str, ...], ...] = (
    STRUCTURAL,
    (*STRUCTURAL, "conduct"),
    (*STRUCTURAL, "words"),
    (*STRUCTURAL, "conduct", "words"),
    (*STRUCTURAL, "conduct", "epistemic"),
    (*STRUCTURAL, "conduct", "behaviour"),
    (*STRUCTURAL, "conduct", "words", "epistemic", "behaviour"),
)
"""Feature-group sets compared by ``--ablation``: the structural groups alone, then the other groups added."""
DATA = {
    "tau_bench": (
        "tau-bench airline (GPT-4o)",
        DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz",
        "tau-bench",
    ),
    "swe_bench": (
        "SWE-bench Verified (mini-swe-agent, Gemini 3 Pro)",
        DATASETS / "mini_swe_agent_swebench_verified" / "trajectories.jsonl.gz",
        "mini-swe-agent",
    ),
}


def figure(value: float | None) -> str:
    """A metric with three decimals, or n/a."""
    return "n/a" if value is None else f"{value:.3f}"


def table_row(name: str, scores: Scores) -> str:
    """One markdown row: AUROC on full runs and at the cuts, then Brier on full runs and at 50 %."""
    cells = [figure(scores.auroc), *(figure(scores.auroc_at[str(cut)]) for cut in CUTS)]
    cells += [figure(scores.brier), figure(scores.brier_at["0.5"])]
    return f"| {name} | " + " | ".join(cells) + " |"


def plot_calibration(report: PredictionReport, title: str, path: Path) -> None:
    """Reliability diagram of the out-of-fold full-run probabilities."""
    figure_, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    bins = report.calibration
    axes.plot(
        [row["mean_predicted"] for row in bins],
        [row["observed"] for row in bins],
        marker="o",
        label="ESCAI (out of fold)",
    )
    for row in bins:
        axes.annotate(
            str(int(row["count"])),
            (row["mean_predicted"], row["observed"]),
            fontsize=7,
            xytext=(3, -9),
            textcoords="offset points",
        )
    axes.axhline(report.positives / report.n, color="orange", linewidth=1, label="class prior")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("predicted probability of success")
    axes.set_ylabel("observed success rate")
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=7, loc="upper left")
    figure_.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure_.savefig(path, dpi=110)
    plt.close(figure_)


def section(name: str, title: str, command: str, report: PredictionReport) -> str:
    """The markdown of one data set's figures."""
    header = (
        "| predictor | AUROC | AUROC@25% | AUROC@50% | AUROC@75% | Brier | Brier@50% |\n|---|---|---|---|---|---|---|"
    )
    rows = [table_row("**ESCAI ensemble**", report.method)]
    rows += [table_row(f"{model} alone", scores) for model, scores in report.members.items()]
    rows += [table_row(f"baseline: {baseline}", scores) for baseline, scores in report.baselines.items()]
    steps = ", ".join(f"{int(float(cut) * 100)} %: {value:.1f}" for cut, value in report.remaining_steps_mae_at.items())
    lines = [
        f"### {title}",
        "",
        f"`{command}`: n = {report.n} runs ({report.positives} succeeded), {report.groups} task groups, "
        f"{report.folds} folds.",
        "",
        header,
        *rows,
        "",
        f"Remaining steps, mean absolute error: {steps}.",
    ]
    if report.remaining_seconds_mae_at is not None:
        seconds = ", ".join(
            f"{int(float(cut) * 100)} %: {value:.0f} s" for cut, value in report.remaining_seconds_mae_at.items()
        )
        lines.append(f"Remaining time, mean absolute error ({report.timed_runs} runs with recorded times): {seconds}.")
    else:
        lines.append("Remaining time: not scored (the data has no recorded timestamps).")
    lines += ["", f"![calibration of {title}](img/calibration_{name}.png)", ""]
    return "\n".join(lines)


def replace_between(start: str, end: str, generated: str) -> None:
    """Replace the text between two markers of ``docs/prediction.md`` (markers kept)."""
    text = DOC.read_text()
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    DOC.write_text(before + start + "\n" + generated + "\n" + end + after)


def spread(values: Sequence[float | None]) -> str:
    """Mean ± standard deviation of AUROCs over seeds."""
    known = [value for value in values if value is not None]
    if not known:
        return "n/a"
    deviation = statistics.pstdev(known) if len(known) > 1 else 0.0
    return f"{statistics.mean(known):.3f} ± {deviation:.3f}"


def ablation(runs: dict[str, list[OutcomeRun]], folds: int, seeds: int) -> str:
    """Markdown table of AUROC (full run and at 50 %) per feature-group set and data set, over ``seeds`` splits."""
    header = "| feature groups | " + " | ".join(f"{name} AUROC | {name} AUROC@50%" for name in runs) + " |"
    lines = [header, "|---" * (1 + 2 * len(runs)) + "|"]
    for groups in ABLATION_SETS:
        cells = []
        for data in runs.values():
            full, half = [], []
            for seed in range(seeds):
                options = TrainingOptions(feature_groups=groups, seed=seed)
                report = evaluate_prediction(data, folds=folds, seed=seed, options=options)
                full.append(report.method.auroc)
                half.append(report.method.auroc_at["0.5"])
            cells += [spread(full), spread(half)]
        marker = " (default)" if groups == DEFAULT_GROUPS else ""
        row = f"| {', '.join(groups)}{marker} | " + " | ".join(cells) + " |"
        print(row, flush=True)
        lines.append(row)
    return "\n".join(lines)


def main() -> None:
    """Evaluate both data sets, print the JSON, and write the figures and plots into the docs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="Print only; leave the docs alone.")
    parser.add_argument("--ablation", action="store_true", help="Compare feature-group sets over several splits.")
    parser.add_argument("--seeds", type=int, default=3, help="Fold splits per group set in --ablation.")
    args = parser.parse_args()
    host = machine()
    print(f"machine: {host}")
    if args.ablation:
        loaded = {name: read_outcome_runs([path], format_name)[0] for name, (_, path, format_name) in DATA.items()}
        table = ablation(loaded, args.folds, args.seeds)
        if not args.no_write:
            note = (
                f"_Generated by `python bench/eval_prediction.py --ablation --seeds {args.seeds}` on {host}: "
                f"mean ± standard deviation over {args.seeds} grouped {args.folds}-fold splits._"
            )
            replace_between(ABLATION_START, ABLATION_END, note + "\n\n" + table)
        return
    sections = []
    for name, (title, path, format_name) in DATA.items():
        started = time.perf_counter()
        runs, unlabelled = read_outcome_runs([path], format_name)
        report = evaluate_prediction(runs, folds=args.folds, seed=args.seed)
        report.unlabelled = unlabelled
        seconds = time.perf_counter() - started
        data = report.as_dict()
        data.pop("calibration")
        print(f"{name} ({seconds:.1f} s): {json.dumps(data)}")
        shown = f"../{path.relative_to(ROOT.parent)}" if path.is_relative_to(ROOT.parent) else str(path)
        command = f"escai eval prediction {shown} --format {format_name} --folds {args.folds} --json"
        sections.append(section(name, title, command, report))
        if not args.no_write:
            plot_calibration(report, title, IMAGES / f"calibration_{name}.png")
    if args.no_write:
        return
    generated = "\n".join([START, f"_Generated by `python bench/eval_prediction.py` on {host}._", "", *sections, END])
    text = DOC.read_text()
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    DOC.write_text(before + generated + after)
    print(f"wrote {DOC.relative_to(ROOT)} and {len(DATA)} calibration plots")


if __name__ == "__main__":
    main()
