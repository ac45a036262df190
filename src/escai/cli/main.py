"""The ``escai`` command. Each command is thin: it parses options and calls the modules that do the work."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from escai._version import __version__
from escai.cli import codegen as codegen_commands
from escai.cli import db as db_commands
from escai.cli import eval as eval_commands
from escai.cli import model as model_commands
from escai.cli import sessions as session_commands
from escai.cli.analyze import analyze_command
from escai.cli.common import settings_with
from escai.cli.importer import import_command
from escai.cli.run import run_command
from escai.exceptions import ConfigurationError
from escai.ops.runtime_tuning import tune_runtime_for_ingest

app = typer.Typer(
    name="escai",
    help="ESCAI: watch and understand autonomous LLM agents.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db_commands.app, name="db")
app.add_typer(session_commands.app, name="sessions")
app.add_typer(eval_commands.app, name="eval")
app.add_typer(model_commands.app, name="model")
app.add_typer(codegen_commands.app, name="codegen")
app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(run_command)
app.command("import")(import_command)
app.command("analyze")(analyze_command)
console = Console()


@app.command()
def version() -> None:
    """Print ESCAI's version."""
    console.print(f"escai {__version__}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    database_url: Annotated[str | None, typer.Option(help="Database URL (default: embedded SQLite).")] = None,
) -> None:
    """Run the ESCAI server: REST API, WebSocket, health and metrics."""
    import uvicorn

    from escai.server.app import create_app

    try:
        settings = settings_with(host=host, port=port, database_url=database_url)
    except ConfigurationError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    from escai.ops.logging import configure_logging

    configure_logging(level=settings.log_level, fmt=settings.log_format, file=settings.log_file)
    console.print(
        f"ESCAI {__version__} on http://{settings.host}:{settings.port}  "
        f"(database: {settings.resolved_database_url.split('@')[-1]})"
    )
    app_instance = create_app(settings)
    tune_runtime_for_ingest()
    uvicorn.run(app_instance, host=settings.host, port=settings.port, log_config=None, access_log=False)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port for the embedded server (0: any free port).")] = 8000,
    keep_running: Annotated[bool, typer.Option(help="Leave the server up after the demo.")] = False,
    database_url: Annotated[str | None, typer.Option(help="Database URL (default: embedded SQLite).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Start an embedded server, run scripted agents against it, and show what ESCAI captured."""
    from escai.demo.runner import run_demo

    settings = settings_with(port=port, database_url=database_url)
    summary = asyncio.run(run_demo(settings, console=None if as_json else console, keep_running=keep_running))
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    table = Table(title="Demo sessions")
    for column in ("session", "agents", "events", "status", "conf", "beliefs/rev", "task goal"):
        table.add_column(column, no_wrap=column != "agents")
    table.add_column("what happened", overflow="fold", ratio=1)
    for row in summary["sessions"]:
        confidence = "-" if row["final_confidence"] is None else f"{row['final_confidence']:.2f}"
        story = row["behaviour"] or "-"
        if row["attribution"] is not None:
            blamed = row["attribution"]
            story += f"\n[red]most likely cause:[/red] {blamed['agent']} at step {blamed['step']}"
        table.add_row(
            row["id"],
            ", ".join(row["agents"]),
            str(row["events"]),
            row["status"],
            confidence,
            f"{row['beliefs']}/{row['revisions']}",
            row["task_goal"] or "-",
            story,
        )
    console.print(table)
    console.print(f"API: {summary['api']}   docs: {summary['api']}/docs")
    console.print("Look closer: escai analyze SESSION_ID   (timeline, failure attribution, loops, explanations)")
    console.print("Across sessions: escai analyze --patterns   |   escai sessions list")


def main() -> None:
    """Entry point for ``python -m escai.cli.main``."""
    app()


if __name__ == "__main__":
    main()
