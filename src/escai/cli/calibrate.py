"""``escai model calibrate``: fit the epistemic confidence calibrator on runs with recorded outcomes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from escai.analysis.epistemic.calibration import FEATURES, ConfidenceCalibrator, fit_calibrator
from escai.analysis.epistemic.extractor import extract_timeline
from escai.analysis.epistemic.fitting import CUT_POINTS, fit_calibrator_from_store
from escai.cli.common import settings_with
from escai.ingest.importers import AUTO, ImportedRun, read_runs
from escai.model.events import EventType
from escai.settings import Settings
from escai.store.engine import create_engine
from escai.store.migrate import upgrade_async

console = Console()


def _examples_from_files(paths: list[Path], format_name: str) -> tuple[list[tuple[Mapping[str, float], bool]], int]:
    examples: list[tuple[Mapping[str, float], bool]] = []
    used = 0
    for path in paths:
        files = sorted(item for item in path.rglob("*") if item.is_file()) if path.is_dir() else [path]
        for file in files:
            for run in read_runs(file, format_name):
                if not isinstance(run, ImportedRun):
                    continue
                success = run.annotations.get("labels", {}).get("success")
                events = [event for event in run.events if event.type is not EventType.SESSION_END]
                timeline = extract_timeline(events)
                if success is None or not timeline.states:
                    continue
                used += 1
                for fraction in CUT_POINTS:
                    state = timeline.states[min(len(timeline.states) - 1, int(fraction * len(timeline.states)))]
                    examples.append((state.signals, bool(success)))
    return examples, used


async def _fit_from_store(settings: Settings) -> tuple[ConfidenceCalibrator, int]:
    await upgrade_async(settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url)
    try:
        return await fit_calibrator_from_store(engine)
    finally:
        await engine.dispose()


def calibrate_command(
    sources: Annotated[
        list[Path] | None, typer.Option("--from", help="Fit on these run files or directories instead of the database.")
    ] = None,
    format_name: Annotated[str, typer.Option("--format", help="Format of --from files.")] = AUTO,
    home: Annotated[Path | None, typer.Option(help="ESCAI home (default ~/.escai).")] = None,
    database_url: Annotated[str | None, typer.Option(help="Database URL (default: embedded SQLite).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the calibrator as JSON.")] = False,
) -> None:
    """Fit the confidence calibrator (confidence components -> P(success)) on runs with recorded outcomes.

    The live analysis and `escai analyze` use it from then on; each state keeps its raw confidence too.
    """
    settings = settings_with(home=home, database_url=database_url)
    try:
        if sources:
            examples, used = _examples_from_files(sources, format_name)
            calibrator = fit_calibrator(examples)
        else:
            calibrator, used = asyncio.run(_fit_from_store(settings))
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    calibrator.save(settings.calibration_path)
    if as_json:
        typer.echo(json.dumps({"path": str(settings.calibration_path), "sessions": used, **_as_dict(calibrator)}))
        return
    table = Table(title=f"confidence calibrator: {used} sessions, saved to {settings.calibration_path}")
    table.add_column("component")
    table.add_column("weight (per standard deviation)", justify="right")
    for name, weight in sorted(zip(FEATURES, calibrator.coefficients, strict=True), key=lambda item: -abs(item[1])):
        table.add_row(name, f"{weight:+.3f}")
    console.print(table)


def _as_dict(calibrator: ConfidenceCalibrator) -> dict[str, object]:
    return {
        "features": list(FEATURES),
        "coefficients": list(calibrator.coefficients),
        "intercept": calibrator.intercept,
        "trained_on": calibrator.trained_on,
    }
