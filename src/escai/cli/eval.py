"""``escai eval``: evaluate ESCAI's analyses against labelled logs: ``attribution`` (Who&When-style failure
attribution) and ``prediction`` (success prediction by grouped cross-validation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from escai.analysis.causal.attribution.evaluate import (
    DEFAULT_FOLDS,
    Accuracy,
    EvaluationReport,
    collect_labelled_runs,
    evaluate_attribution,
)
from escai.cli.eval_prediction import prediction_command
from escai.ingest.importers import AUTO, FORMAT_NAMES, ImporterError, ImportItem, read_runs

app = typer.Typer(help="Evaluate analyses against labelled logs.", no_args_is_help=True)
app.command("prediction")(prediction_command)
console = Console()


@app.callback()
def eval_group() -> None:
    """Evaluate analyses against labelled logs."""


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(item for item in path.rglob("*") if item.is_file()) if path.is_dir() else [path])
    return found


def _read_items(paths: list[Path], format_name: str) -> list[ImportItem]:
    items: list[ImportItem] = []
    for path in _files(paths):
        items.extend(read_runs(path, format_name))
    return items


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"


def _print_report(report: EvaluationReport) -> None:
    headline = report.methods[report.headline]
    console.print(
        f"n={headline.n}  {report.headline}: agent {_percent(headline.agent_accuracy)} %  "
        f"step {_percent(headline.step_accuracy)} %  within 1: {_percent(headline.step_within_1)} %  "
        f"within 3: {_percent(headline.step_within_3)} %"
    )
    table = Table(title="Failure attribution (percent of runs)")
    for column in ("kind", "name", "agent", "step", "step ±1", "step ±3"):
        table.add_column(column, justify="left" if column in ("kind", "name") else "right")
    rows: list[tuple[str, str, Accuracy]] = [("baseline", name, value) for name, value in report.baselines.items()]
    rows += [("method", name, value) for name, value in report.methods.items()]
    for kind, name, value in rows:
        table.add_row(
            kind,
            name,
            _percent(value.agent_accuracy),
            _percent(value.step_accuracy),
            _percent(value.step_within_1),
            _percent(value.step_within_3),
        )
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")
    if report.unlabelled:
        console.print(f"{report.unlabelled} runs without mistake labels were left out")


@app.command("attribution")
def attribution_command(
    paths: Annotated[list[Path], typer.Argument(help="Log files or directories (every file inside is read).")],
    format_name: Annotated[
        str, typer.Option("--format", help=f"Input format: {AUTO} or one of {', '.join(FORMAT_NAMES)}.")
    ] = AUTO,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    folds: Annotated[int, typer.Option(min=2, help="Cross-fitting folds for the learned parts.")] = DEFAULT_FOLDS,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.")] = 0,
) -> None:
    """Attribute each failed run's failure (labels withheld) and score it against the labels, beside baselines."""
    if format_name not in (AUTO, *FORMAT_NAMES):
        raise typer.BadParameter(f"{format_name!r} is not one of {', '.join((AUTO, *FORMAT_NAMES))}")
    try:
        items = _read_items(paths, format_name)
    except (ImporterError, OSError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    runs, unlabelled = collect_labelled_runs(items)
    if not runs:
        console.print("[red]error:[/red] no run has mistake_agent and mistake_step labels")
        raise typer.Exit(1)
    report = evaluate_attribution(runs, folds=folds, seed=seed)
    report.unlabelled = unlabelled
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    _print_report(report)
