"""``escai run [OPTIONS] -- CMD ARGS...``: run a program with every installed framework instrumented.

Registered in :mod:`escai.cli.main` with ``allow_extra_args`` and ``ignore_unknown_options``, so everything after
``--`` (or after the options) is the command. The work is done by :mod:`escai.sdk.autoinstrument`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from escai.sdk.autoinstrument import RunOptions, run_instrumented


def run_command(
    context: typer.Context,
    agent_name: Annotated[str | None, typer.Option(help="Name of the agent the command runs.")] = None,
    agent_id: Annotated[str | None, typer.Option(help="Agent id (default: the script's name).")] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(help="ESCAI server URL (default: ESCAI_ENDPOINT, else the embedded local store)."),
    ] = None,
    api_key: Annotated[str | None, typer.Option(help="API key for the server (default: ESCAI_API_KEY).")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Database of the embedded store (default: ESCAI_HOME/escai.db).")
    ] = None,
    frameworks: Annotated[
        str | None,
        typer.Option(help="Comma-separated frameworks to instrument (default: every installed one; 'none': none)."),
    ] = None,
    shutdown_timeout: Annotated[
        float, typer.Option(help="Longest wait, in seconds, to send the last events when a process exits.")
    ] = 5.0,
) -> None:
    """Run a command with LangChain, AutoGen, CrewAI and OpenAI instrumented, as one monitored session.

    Example: escai run --agent-name researcher -- python my_agent.py --topic hubble
    """
    command = list(context.args)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        typer.echo("escai run: give the command to run, e.g. escai run -- python my_agent.py", err=True)
        raise typer.Exit(2)
    selected = None
    if frameworks is not None:
        selected = [] if frameworks.strip().lower() == "none" else [name for name in frameworks.split(",") if name]
    options = RunOptions(
        endpoint=endpoint,
        api_key=api_key,
        agent_id=agent_id,
        agent_name=agent_name,
        database_url=database_url,
        frameworks=selected,
        shutdown_timeout=shutdown_timeout,
    )
    raise typer.Exit(run_instrumented(command, options))
