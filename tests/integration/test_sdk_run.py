"""escai run -- CMD: the command runs as one monitored session, with frameworks instrumented and no code changes."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import MonitoringSession, SessionStatus
from escai.store.engine import create_engine
from escai.store.queries import EventFilter, SessionFilter, list_events, list_sessions


def escai_run(
    tmp_path: Path, script: str, *arguments: str, options: tuple[str, ...] = ()
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Write ``script`` and run it with ``escai run`` on a fresh SQLite store; return the store URL and the process."""
    program = tmp_path / "agent_script.py"
    program.write_text(textwrap.dedent(script))
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'run.db'}"
    # Without PYTEST_CURRENT_TEST the child behaves as in production: internal errors are logged, never raised.
    environment = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    completed = subprocess.run(
        [
            sys.executable, "-m", "escai.cli.main", "run", "--database-url", database_url, *options,
            "--", sys.executable, str(program), *arguments,
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=180,
        check=False,
    )  # fmt: skip
    assert "internal error" not in completed.stderr, completed.stderr
    return database_url, completed


async def stored(database_url: str) -> tuple[list[MonitoringSession], list[AgentEvent]]:
    """Every session and every event in the store."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            sessions = (await list_sessions(connection, SessionFilter())).sessions
            events = (await list_events(connection, EventFilter(), 1000)).events
    finally:
        await engine.dispose()
    return sessions, events


PLAIN = """
    import sys
    total = sum(int(argument) for argument in sys.argv[1:])
    print("total", total)
"""


async def test_plain_script_runs_as_one_session(tmp_path: Path) -> None:
    """A script that knows nothing of ESCAI: its output, exit code, and a session with the command line as task."""
    database_url, completed = escai_run(tmp_path, PLAIN, "2", "40", options=("--agent-name", "adder"))
    assert completed.returncode == 0, completed.stderr
    assert "total 42" in completed.stdout
    (session,), events = await stored(database_url)
    assert session.status is SessionStatus.COMPLETED and session.outcome_success is True
    assert session.task is not None and session.task.endswith("agent_script.py 2 40")
    assert session.agent_id == "adder"
    start, end = events
    assert (start.type, end.type) == (EventType.SESSION_START, EventType.SESSION_END)
    assert end.parent_id == start.id and end.attributes["process.exit.code"] == 0
    assert start.attributes[semconv.ESCAI_TASK] == session.task


async def test_events_of_the_program_join_the_run_session(tmp_path: Path) -> None:
    """escai.init() in the child is done for it: its events land in the run's session, under its start."""
    script = """
        import escai
        escai.capture_event({"type": "thought", "content": "thinking inside the run"})

        @escai.observe(kind="tool")
        def search(query):
            return [query]

        search("hubble")
    """
    database_url, completed = escai_run(tmp_path, script)
    assert completed.returncode == 0, completed.stderr
    (session,), events = await stored(database_url)
    assert {event.session_id for event in events} == {session.id}
    start = next(event for event in events if event.type is EventType.SESSION_START)
    thought = next(event for event in events if event.type is EventType.THOUGHT)
    call = next(event for event in events if event.type is EventType.TOOL_CALL)
    assert thought.parent_id == start.id and call.parent_id == start.id
    assert thought.agent_id == "agent_script"  # the script's name, as the parent named the run's agent


async def test_failing_program_fails_the_session_and_keeps_its_exit_code(tmp_path: Path) -> None:
    """A program that exits with 3: escai run exits with 3 and the session is failed with that exit code."""
    database_url, completed = escai_run(tmp_path, "import sys\nsys.exit(3)\n")
    assert completed.returncode == 3
    (session,), events = await stored(database_url)
    assert session.status is SessionStatus.FAILED
    end = events[-1]
    assert end.status is EventStatus.ERROR and end.attributes["process.exit.code"] == 3


async def test_langchain_program_is_instrumented_without_code_changes(tmp_path: Path) -> None:
    """A RunnableLambda in a plain script: its runs are recorded when ESCAI has a LangChain instrumentor."""
    script = """
        from langchain_core.runnables import RunnableLambda

        double = RunnableLambda(lambda value: value * 2, name="double")
        print("result", double.invoke(21))
    """
    database_url, completed = escai_run(tmp_path, script)
    assert completed.returncode == 0, completed.stderr
    assert "result 42" in completed.stdout
    (session,), events = await stored(database_url)
    assert events[0].type is EventType.SESSION_START
    assert events[-1].type is EventType.SESSION_END
    langchain_events = [event for event in events if event.framework == "langchain"]
    if importlib.util.find_spec("escai.instrument.langchain") is not None:
        assert langchain_events, [event.type for event in events]
        assert {event.session_id for event in langchain_events} == {session.id}
        assert any(event.name == "double" for event in langchain_events)
    else:
        assert not langchain_events


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``escai ARGUMENTS`` in a subprocess."""
    command = [sys.executable, "-m", "escai.cli.main", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_run_without_a_command_is_an_error() -> None:
    """escai run with nothing to run says how to use it and exits with 2."""
    completed = run_cli("run")
    assert completed.returncode == 2 and "give the command to run" in completed.stderr


async def test_a_command_that_cannot_start_exits_127(tmp_path: Path) -> None:
    """A missing program: exit status 127 and a failed session saying why."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}"
    completed = run_cli("run", "--database-url", database_url, "--", "no-such-program-xyz")
    assert completed.returncode == 127 and "cannot start" in completed.stderr
    (session,), _ = await stored(database_url)
    assert session.status is SessionStatus.FAILED
