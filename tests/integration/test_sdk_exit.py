"""Flush at exit, in real subprocesses: bounded by shutdown_timeout with a dead or slow server, complete otherwise."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.unit.test_sdk_http_exporter import fake_server, free_port

from escai.sdk.wire import decode_body
from escai.store.engine import create_engine
from escai.store.queries import count_events

PROGRAM = textwrap.dedent(
    """
    import sys, time
    import escai

    escai.init({init_arguments})
    with escai.session("exit test", agent_id="exiting"):
        for index in range(1000):
            escai.capture_event({{"type": "message", "content": f"event {{index}}"}})
    print(time.monotonic(), flush=True)  # the moment the program is done; what follows is the flush at exit
    """
)


def run_program(init_arguments: str, home: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run the program; return how long its exit took after its last statement, and the process."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    environment["ESCAI_HOME"] = str(home)
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(init_arguments=init_arguments)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=True,
    )
    finished = time.monotonic()
    return finished - float(completed.stdout.split()[-1]), completed


async def count_stored(database_url: str) -> int:
    """How many events the database holds."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await count_events(connection)
    finally:
        await engine.dispose()


def spooled_events(spool: Path) -> list[dict[str, object]]:
    """Every event in the spool files."""
    return [event for path in sorted(spool.glob("*.batch")) for event in decode_body(path.read_bytes())]


def test_dead_server_does_not_delay_exit_beyond_the_timeout(tmp_path: Path) -> None:
    """Connection refused: the program exits within shutdown_timeout and every event is in the spool."""
    spool = tmp_path / "spool"
    arguments = f'"http://127.0.0.1:{free_port()}", spool_dir={str(spool)!r}, shutdown_timeout=2.0'
    exit_time, completed = run_program(arguments, tmp_path)
    assert exit_time < 3.0, completed.stderr
    events = spooled_events(spool)
    assert len(events) == 1002 and len({event["id"] for event in events}) == 1002
    assert "spooled" in completed.stderr  # logged once, not raised
    assert completed.stderr.count("cannot deliver") == 1


def test_slow_server_does_not_delay_exit_beyond_the_timeout(tmp_path: Path) -> None:
    """A server that answers after 4 s: exit within shutdown_timeout; what was not answered is spooled."""
    spool = tmp_path / "spool"
    with fake_server(delay=4.0) as server:
        arguments = f"{server.url!r}, spool_dir={str(spool)!r}, shutdown_timeout=2.0"
        exit_time, completed = run_program(arguments, tmp_path)
    assert exit_time < 3.0, completed.stderr
    assert {event["id"] for event in spooled_events(spool)} >= {
        event["id"] for request in server.received for event in request.events
    }
    assert len(spooled_events(spool)) == 1002


async def test_embedded_store_is_flushed_at_exit(tmp_path: Path) -> None:
    """Without a server and without an explicit shutdown, the events are in the local database after exit."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'exit.db'}"
    _, completed = run_program(f"database_url={database_url!r}, shutdown_timeout=30", tmp_path)
    assert await count_stored(database_url) == 1002, completed.stderr


def test_auto_init_records_a_program_that_never_calls_init(tmp_path: Path) -> None:
    """ESCAI_AUTO_INIT=1: the first session configures the embedded store from the environment, flushed at exit."""
    script = textwrap.dedent(
        """
        import escai
        with escai.session("auto"):
            escai.capture_event({"type": "message", "content": "hello"})
        """
    )
    environment = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    environment.update({"ESCAI_HOME": str(tmp_path), "ESCAI_AUTO_INIT": "1"})
    subprocess.run([sys.executable, "-c", script], env=environment, timeout=120, check=True, capture_output=True)
    assert asyncio.run(count_stored(f"sqlite+aiosqlite:///{tmp_path / 'escai.db'}")) == 3
