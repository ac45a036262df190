"""The SDK against a real ESCAI server: delivery, and spooled events replayed once the server comes up."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn
from tests.integration.conftest import make_settings
from tests.unit.test_sdk_http_exporter import free_port, wait_for

import escai
from escai.model.events import EventType
from escai.sdk.http_exporter import HttpExporter
from escai.sdk.runtime import get_recorder
from escai.server.app import create_app
from escai.store.engine import create_engine
from escai.store.queries import EventFilter, count_events, list_events

API_KEY = "sdk-test-key-0123456789"


@contextlib.contextmanager
def running_app(database_url: str, home: Path, port: int) -> Iterator[str]:
    """The ESCAI app served by uvicorn in a thread on ``port``, with an API key; yields its URL."""
    app = create_app(make_settings(database_url, home, api_keys=API_KEY))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: server.started, 30), "server did not start"
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


async def stored_ids(database_url: str) -> list[str]:
    """Ids of every stored event, in ingest order."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await count_events(connection) < 1000
            page = await list_events(connection, EventFilter(), 1000)
    finally:
        await engine.dispose()
    return [event.id for event in page.events]


def emit_session(count: int) -> list[str]:
    """A session of ``count`` tool calls (``count + 2`` events); returns the ids of its start and its calls."""
    recorder = get_recorder()
    assert recorder is not None
    with escai.session("replay test") as run:
        ids = [recorder.emit(EventType.TOOL_CALL, f"call {index}", name="search") for index in range(count)]
    assert run.start_event_id is not None
    return [run.start_event_id, *ids]


async def test_events_are_delivered_with_the_api_key(sqlite_url: str, tmp_path: Path) -> None:
    """With the server up, every event arrives, authenticated with the key."""
    with running_app(sqlite_url, tmp_path, free_port()) as url:
        try:
            recorder = escai.init(url, api_key=API_KEY, spool_dir=tmp_path / "spool")
            ids = emit_session(20)
            assert escai.flush(30)
        finally:
            escai.shutdown(10)
    assert recorder is not None and isinstance(recorder.exporter, HttpExporter)
    assert recorder.exporter.delivered_events == 22 and recorder.exporter.spooled_batches == 0
    stored = await stored_ids(sqlite_url)
    assert len(stored) == 22 and set(ids) <= set(stored)


async def test_spooled_events_are_replayed_once_when_the_server_comes_up(sqlite_url: str, tmp_path: Path) -> None:
    """Events captured while nothing listens are spooled, then each arrives exactly once when the server starts."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    exporter = HttpExporter(url, api_key=API_KEY, spool_dir=tmp_path / "spool", down_min=0.2, max_retries=1)
    try:
        escai.init(exporter=exporter)
        ids = emit_session(30)
        assert escai.flush(30)
        assert exporter.is_down and exporter.backlog >= 1 and exporter.delivered_events == 0
        spooled_files = exporter.backlog
        with running_app(sqlite_url, tmp_path, port):
            assert wait_for(lambda: exporter.backlog == 0, 30)
            ids.extend(emit_session(5))  # and the server is used normally afterwards
            assert escai.flush(30)
    finally:
        escai.shutdown(10)
    stored = await stored_ids(sqlite_url)
    assert len(stored) == len(set(stored)) == 32 + 7
    assert set(ids) <= set(stored)
    assert exporter.replayed_batches == spooled_files
    assert exporter.delivered_events == 39  # no event was sent twice
    assert not list((tmp_path / "spool").glob("*.batch"))


def test_a_later_process_replays_what_an_exited_one_spooled(sqlite_url: str, tmp_path: Path) -> None:
    """A program that ran while the server was down leaves a spool; the next program delivers it."""
    port = free_port()
    spool = tmp_path / "spool"
    script = textwrap.dedent(
        f"""
        import escai
        escai.init("http://127.0.0.1:{port}", spool_dir={str(spool)!r}, agent_id="offline")
        with escai.session("offline run"):
            for index in range(25):
                escai.capture_event({{"type": "message", "content": f"note {{index}}"}})
        """
    )
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60, capture_output=True)
    assert time.monotonic() - started < 30
    assert list(spool.glob("*.batch"))
    with running_app(sqlite_url, tmp_path, port) as url:
        exporter = HttpExporter(url, api_key=API_KEY, spool_dir=spool)
        assert wait_for(lambda: exporter.replayed_batches >= 1 and exporter.backlog == 0, 30)
        exporter.shutdown(5)
        response = httpx.get(
            f"{url}/api/v1/events", params={"agent_id": "offline", "limit": 100}, headers={"X-API-Key": API_KEY}
        )
    assert response.status_code == 200
    assert len(response.json()["events"]) == 27
    assert not list(spool.glob("*.batch"))
