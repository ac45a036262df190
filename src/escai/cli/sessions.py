"""``escai sessions``: list and show monitoring sessions, read straight from the database."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from escai.cli.common import settings_with
from escai.model.records import SessionStatus
from escai.store.engine import create_engine
from escai.store.queries import EventFilter, SessionFilter, get_session, list_events, list_sessions

app = typer.Typer(help="List and inspect monitoring sessions.", no_args_is_help=True)
console = Console()

DatabaseOption = Annotated[str | None, typer.Option(help="Database URL (default: embedded SQLite).")]


async def _list(url: str, where: SessionFilter, limit: int) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            page = await list_sessions(connection, where, limit)
    finally:
        await engine.dispose()
    return [session.model_dump(mode="json") for session in page.sessions]


async def _show(url: str, session_id: str, limit: int) -> dict[str, Any] | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            session = await get_session(connection, session_id)
            if session is None:
                return None
            page = await list_events(connection, EventFilter(session_id=session_id), limit)
    finally:
        await engine.dispose()
    return {
        **session.model_dump(mode="json"),
        "events": [event.model_dump(mode="json") for event in page.events],
    }


@app.command("list")
def list_command(
    agent: Annotated[str | None, typer.Option(help="Only sessions of this agent.")] = None,
    status: Annotated[SessionStatus | None, typer.Option(help="Only sessions with this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Sessions, newest first."""
    url = settings_with(database_url=database_url).resolved_database_url
    rows = asyncio.run(_list(url, SessionFilter(agent_id=agent, status=status), limit))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} sessions")
    for column in ("id", "agent", "framework", "started", "status", "events"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["id"],
            row["agent_id"],
            row["framework"] or "",
            row["started_at"][:19],
            row["status"],
            str(row["event_count"]),
        )
    console.print(table)


@app.command("show")
def show_command(
    session_id: str,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Events to show.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """One session and its events."""
    url = settings_with(database_url=database_url).resolved_database_url
    found = asyncio.run(_show(url, session_id, limit))
    if found is None:
        console.print(f"[red]error:[/red] no session with id {session_id!r}")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(found))
        return
    console.print(
        f"[bold]{found['id']}[/bold]  agents: {', '.join(found['agent_ids'])}  status: {found['status']}  "
        f"events: {found['event_count']}\ntask: {found['task'] or '-'}"
    )
    table = Table()
    for column in ("step", "time", "agent", "type", "name", "content"):
        table.add_column(column, overflow="fold")
    for event in found["events"]:
        content = (event["content"] or "").replace("\n", " ")
        table.add_row(
            "" if event["step_index"] is None else str(event["step_index"]),
            event["timestamp"][11:23],
            event["agent_id"],
            event["type"],
            event["name"] or "",
            content[:120],
        )
    console.print(table)
