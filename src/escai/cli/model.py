"""``escai model``: train, list and check the success-prediction models of the registry.

``train`` learns from stored sessions that have an outcome (or from files with ``--from PATH --format``), scores
the method by grouped cross-validation on the same runs for the metadata, and registers a new version; ``list``
shows the versions; ``drift`` compares sessions with the latest model's training data and says whether to retrain.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from escai.analysis.predict.dataset import OutcomeRun
from escai.analysis.predict.drift import check_drift
from escai.analysis.predict.evaluate import DEFAULT_FOLDS, evaluate_prediction
from escai.analysis.predict.registry import ModelRegistry, NoModelError
from escai.analysis.predict.stored import load_outcome_runs
from escai.analysis.predict.training import NotEnoughRunsError, TrainingOptions, full_run_matrix, train_models
from escai.cli.calibrate import calibrate_command
from escai.cli.common import settings_with
from escai.cli.eval_prediction import read_outcome_runs
from escai.exceptions import ConfigurationError
from escai.ingest.importers import AUTO, FORMAT_NAMES, ImporterError
from escai.settings import Settings
from escai.store.engine import create_engine
from escai.store.migrate import upgrade_async

app = typer.Typer(help="Train and list success-prediction models.", no_args_is_help=True)
app.command("calibrate")(calibrate_command)
console = Console()

FromOption = Annotated[
    list[Path] | None,
    typer.Option("--from", help="Train from these run files or directories instead of the database."),
]
FormatOption = Annotated[
    str, typer.Option("--format", help=f"Format of --from files: {AUTO} or one of {', '.join(FORMAT_NAMES)}.")
]
HomeOption = Annotated[Path | None, typer.Option(help="ESCAI home holding the model registry (default ~/.escai).")]
DatabaseOption = Annotated[str | None, typer.Option(help="Database URL (default: embedded SQLite).")]


def _settings(home: Path | None, database_url: str | None = None) -> Settings:
    try:
        return settings_with(home=home, database_url=database_url)
    except ConfigurationError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None


async def _stored_runs(settings: Settings, agent_id: str | None) -> Sequence[OutcomeRun]:
    await upgrade_async(settings.resolved_database_url)  # a fresh database has no tables yet
    engine = create_engine(settings.resolved_database_url)
    try:
        return await load_outcome_runs(engine, agent_id)
    finally:
        await engine.dispose()


def _runs(settings: Settings, sources: list[Path] | None, format_name: str, agent_id: str | None) -> list[OutcomeRun]:
    if format_name not in (AUTO, *FORMAT_NAMES):
        raise typer.BadParameter(f"{format_name!r} is not one of {', '.join((AUTO, *FORMAT_NAMES))}")
    if sources:
        try:
            return read_outcome_runs(sources, format_name)[0]
        except (ImporterError, OSError) as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from None
    return list(asyncio.run(_stored_runs(settings, agent_id)))


@app.command("train")
def train_command(
    sources: FromOption = None,
    format_name: FormatOption = AUTO,
    agent_id: Annotated[str | None, typer.Option(help="Train on this agent's stored sessions only.")] = None,
    folds: Annotated[int, typer.Option(min=0, help="Grouped CV folds for the metadata metrics (0: skip).")] = (
        DEFAULT_FOLDS
    ),
    seed: Annotated[int, typer.Option(help="Seed of the models and folds.")] = 0,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the new version's metadata as JSON.")] = False,
) -> None:
    """Train a success-prediction model on runs with outcomes and register it as the newest version."""
    settings = _settings(home, database_url)
    runs = _runs(settings, sources, format_name, agent_id)
    options = TrainingOptions(seed=seed)
    try:
        cv_metrics: dict[str, Any] = {}
        if folds >= 2:
            report = evaluate_prediction(runs, folds=folds, seed=seed, options=options)
            cv_metrics = {key: value for key, value in report.as_dict().items() if key != "calibration"}
        models = train_models(runs, options)
    except NotEnoughRunsError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    details = {
        "positives": sum(run.success for run in runs),
        "tasks": len({run.group for run in runs}),
        "members": list(options.members),
        "calibration": options.calibration,
        "seed": seed,
        "source": [str(path) for path in sources] if sources else "database",
        "agent_id": agent_id,
    }
    metadata = ModelRegistry.for_settings(settings).save(
        models, training_n=len(runs), cv_metrics=cv_metrics, details=details
    )
    if as_json:
        typer.echo(json.dumps(metadata.as_dict()))
        return
    auroc = cv_metrics.get("auroc")
    console.print(
        f"registered {metadata.version}: {len(runs)} runs ({details['positives']} succeeded), "
        f"{len(metadata.features)} features" + (f", CV AUROC {auroc:.3f}" if isinstance(auroc, float) else "")
    )


@app.command("list")
def list_command(
    home: HomeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the registered model versions, oldest first (the last one is used)."""
    versions = ModelRegistry.for_settings(_settings(home)).list()
    if as_json:
        typer.echo(json.dumps([item.as_dict() for item in versions]))
        return
    if not versions:
        console.print("no prediction model is trained yet; run `escai model train`")
        return
    table = Table(title="Prediction models")
    for column in ("version", "created", "runs", "features", "CV AUROC", "AUROC@50%", "Brier"):
        table.add_column(column)
    for item in versions:
        metrics = item.cv_metrics

        def show(value: Any) -> str:
            return f"{value:.3f}" if isinstance(value, float) else "-"

        table.add_row(
            item.version,
            item.created,
            str(item.training_n),
            str(len(item.features)),
            show(metrics.get("auroc")),
            show((metrics.get("auroc_at") or {}).get("0.5")),
            show(metrics.get("brier")),
        )
    console.print(table)


@app.command("drift")
def drift_command(
    sources: FromOption = None,
    format_name: FormatOption = AUTO,
    agent_id: Annotated[str | None, typer.Option(help="Check this agent's stored sessions only.")] = None,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the drift report as JSON.")] = False,
) -> None:
    """Compare sessions' features with the latest model's training data (PSI) and say whether to retrain."""
    settings = _settings(home, database_url)
    registry = ModelRegistry.for_settings(settings)
    try:
        models = registry.load()
    except NoModelError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    latest = registry.latest()
    runs = _runs(settings, sources, format_name, agent_id)
    matrix = full_run_matrix(runs, models.extractor())
    trained_at = datetime.fromisoformat(latest.created) if latest else None
    # Sessions that started after the model was registered are new evidence it has never seen.
    new_labelled = sum(1 for run in runs if trained_at is not None and run.events[0].timestamp > trained_at)
    report = check_drift(
        models.reference, matrix, new_labelled=new_labelled, trained_on=latest.training_n if latest else 0
    )
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    console.print(
        f"{report.sessions} sessions, {len(report.drifted)} of {len(report.psi)} features drifted; "
        f"retrain: {'yes' if report.retrain else 'no'}"
    )
    for name in report.drifted[:10]:
        console.print(f"  {name}: PSI {report.psi[name]:.2f}")
    for reason in report.reasons:
        console.print(f"reason: {reason}")
