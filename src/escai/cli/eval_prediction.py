"""``escai eval prediction``: score success prediction by grouped cross-validation inside labelled runs.

:func:`prediction_command` is registered on the ``escai eval`` Typer app; the work is done by
:func:`escai.analysis.predict.evaluate.evaluate_prediction`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from escai.analysis.predict.dataset import OutcomeRun, collect_outcome_runs
from escai.analysis.predict.evaluate import CUTS, DEFAULT_FOLDS, PredictionReport, Scores, evaluate_prediction
from escai.analysis.predict.training import NotEnoughRunsError
from escai.ingest.importers import AUTO, FORMAT_NAMES, ImporterError, read_runs

console = Console()


def input_files(paths: list[Path]) -> list[Path]:
    """The files to read: each given file, and every file inside each given directory (sorted)."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(item for item in path.rglob("*") if item.is_file()) if path.is_dir() else [path])
    return found


def read_outcome_runs(paths: list[Path], format_name: str) -> tuple[list[OutcomeRun], int]:
    """Runs with a recorded success label from every input file, and how many records had none."""
    runs: list[OutcomeRun] = []
    unlabelled = 0
    for path in input_files(paths):
        found, missing = collect_outcome_runs(read_runs(path, format_name))
        runs.extend(found)
        unlabelled += missing
    return runs, unlabelled


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _row(table: Table, kind: str, name: str, scores: Scores) -> None:
    table.add_row(
        kind,
        name,
        _figure(scores.auroc),
        *(_figure(scores.auroc_at[str(cut)]) for cut in CUTS),
        _figure(scores.brier),
        _figure(scores.brier_at["0.5"]),
    )


def print_report(report: PredictionReport) -> None:
    """The report as a headline and a table, for people."""
    console.print(
        f"n={report.n} ({report.positives} succeeded, {report.groups} task groups, {report.folds} folds)  "
        f"AUROC {_figure(report.method.auroc)}  Brier {_figure(report.method.brier)}  "
        + "  ".join(f"AUROC@{int(cut * 100)}% {_figure(report.method.auroc_at[str(cut)])}" for cut in CUTS)
    )
    table = Table(title="Success prediction (grouped cross-validation)")
    columns = ["kind", "name", "AUROC", *(f"AUROC@{int(cut * 100)}%" for cut in CUTS), "Brier", "Brier@50%"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("kind", "name") else "right")
    _row(table, "method", "ensemble", report.method)
    for name, scores in report.members.items():
        _row(table, "model", name, scores)
    for name, scores in report.baselines.items():
        _row(table, "baseline", name, scores)
    console.print(table)
    steps = ", ".join(f"{int(float(cut) * 100)}%: {value:.1f}" for cut, value in report.remaining_steps_mae_at.items())
    console.print(f"remaining steps MAE  {steps}")
    if report.remaining_seconds_mae_at is not None:
        seconds = ", ".join(
            f"{int(float(cut) * 100)}%: {value:.0f}" for cut, value in report.remaining_seconds_mae_at.items()
        )
        console.print(f"remaining seconds MAE ({report.timed_runs} timed runs)  {seconds}")
    else:
        console.print("remaining seconds: no run has recorded timestamps")
    if report.unlabelled:
        console.print(f"{report.unlabelled} records without a success label were left out")


def prediction_command(
    paths: Annotated[list[Path], typer.Argument(help="Run files or directories (every file inside is read).")],
    format_name: Annotated[
        str, typer.Option("--format", help=f"Input format: {AUTO} or one of {', '.join(FORMAT_NAMES)}.")
    ] = AUTO,
    folds: Annotated[int, typer.Option(min=2, help="Grouped cross-validation folds.")] = DEFAULT_FOLDS,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment and the models.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
) -> None:
    """Train and test success prediction by grouped cross-validation on runs with outcomes, beside baselines."""
    if format_name not in (AUTO, *FORMAT_NAMES):
        raise typer.BadParameter(f"{format_name!r} is not one of {', '.join((AUTO, *FORMAT_NAMES))}")
    try:
        runs, unlabelled = read_outcome_runs(paths, format_name)
    except (ImporterError, OSError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    try:
        report = evaluate_prediction(runs, folds=folds, seed=seed)
    except NotEnoughRunsError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    report.unlabelled = unlabelled
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    print_report(report)
