"""``escai import``: load existing agent traces (Who&When, tau-bench, SWE-agent, Langfuse, OTel, ...) into ESCAI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from escai.cli.common import settings_with
from escai.exceptions import ConfigurationError
from escai.ingest.importers import AUTO, FORMAT_NAMES
from escai.ingest.importers.runner import FileReport, ImportProgress, ImportSummary, ProgressCallback, run_import

console = Console()
MAX_LISTED_SKIPS = 20


def _known_format(value: str) -> str:
    if value not in (AUTO, *FORMAT_NAMES):
        raise typer.BadParameter(f"{value!r} is not one of {', '.join((AUTO, *FORMAT_NAMES))}")
    return value


def _print_summary(summary: ImportSummary) -> None:
    table = Table(title=f"Imported {summary.sessions} sessions in {summary.seconds:.1f} s")
    for column in ("format", "files", "runs", "events", "stored", "already stored", "skipped"):
        table.add_column(column, justify="left" if column == "format" else "right")
    by_format: dict[str, list[FileReport]] = {}
    for report in summary.files:
        if report.format is not None:
            by_format.setdefault(report.format, []).append(report)
    for name, reports in sorted(by_format.items()):
        table.add_row(
            name,
            str(len(reports)),
            str(sum(item.runs for item in reports)),
            str(sum(item.events for item in reports)),
            str(sum(item.stored for item in reports)),
            str(sum(item.duplicates for item in reports)),
            str(sum(len(item.skipped) + item.rejected for item in reports)),
        )
    console.print(table)
    skipped = summary.skipped
    console.print(
        f"files: {len(summary.files)}  sessions: {summary.sessions}  runs: {summary.runs}  events: {summary.events} "
        f"(stored {summary.stored})  failed files: {len(summary.failed)}  skipped: {len(skipped)}"
    )
    for report in summary.failed:
        console.print(f"[red]error[/red] {report.path}: {report.error}")
    for where, reason in skipped[:MAX_LISTED_SKIPS]:
        console.print(f"[yellow]skipped[/yellow] {where}: {reason}")
    if len(skipped) > MAX_LISTED_SKIPS:
        console.print(f"... and {len(skipped) - MAX_LISTED_SKIPS} more (--json lists them all)")


def import_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to import (gzip is read transparently).")],
    format_name: Annotated[
        str,
        typer.Option(
            "--format",
            callback=_known_format,
            help=f"Input format: {AUTO} (detect it from each file's structure), {', '.join(FORMAT_NAMES)}.",
        ),
    ] = AUTO,
    database_url: Annotated[str | None, typer.Option(help="Database URL (default: embedded SQLite).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON (no progress bar).")] = False,
) -> None:
    """Import agent traces; ground-truth labels in the data are kept as session annotations."""
    try:
        settings = settings_with(database_url=database_url)
    except ConfigurationError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    if as_json:
        summary = asyncio.run(run_import(settings, paths, format_name))
        typer.echo(json.dumps(summary.as_dict()))
    else:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[runs]} runs, {task.fields[events]} events"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("importing", total=None, runs=0, events=0)
            summary = asyncio.run(run_import(settings, paths, format_name, progress=_reporter(progress, task)))
        _print_summary(summary)
    if summary.failed:
        raise typer.Exit(1)


def _reporter(progress: Progress, task: TaskID) -> ProgressCallback:
    def report(state: ImportProgress) -> None:
        progress.update(
            task,
            description=f"[{state.file_number}/{state.file_count}] {state.path.name}",
            total=max(state.bytes_total, 1),
            completed=state.bytes_done,
            runs=state.runs,
            events=state.events,
        )

    return report
