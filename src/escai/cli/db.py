"""``escai db``: database schema management."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from escai.cli.common import settings_with
from escai.store.migrate import current_revision, head_revision, upgrade

app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
console = Console()


@app.command("upgrade")
def upgrade_command(
    database_url: Annotated[str | None, typer.Option(help="Database URL (default: embedded SQLite).")] = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply migrations (safe to repeat)."""
    settings = settings_with(database_url=database_url)
    url = settings.resolved_database_url
    before = asyncio.run(current_revision(url))
    upgrade(url, revision)
    after = asyncio.run(current_revision(url))
    console.print(f"database {url.split('@')[-1]}: {before or 'empty'} -> {after}")


@app.command("current")
def current_command(
    database_url: Annotated[str | None, typer.Option(help="Database URL (default: embedded SQLite).")] = None,
) -> None:
    """Show the schema revision of the database and the newest one available."""
    url = settings_with(database_url=database_url).resolved_database_url
    console.print(f"current: {asyncio.run(current_revision(url)) or 'empty'}   head: {head_revision()}")
