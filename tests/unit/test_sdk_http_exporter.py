"""The HTTP exporter against a scripted server on a real socket: gzip, auth, retries, backoff, spool and replay."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from escai.model.events import EventType
from escai.sdk import http_exporter as http_module
from escai.sdk.http_exporter import HttpExporter, events_url
from escai.sdk.recorder import Recorder
from escai.sdk.spool import Spool
from escai.sdk.wire import Batch, decode_body, encode_records


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Received:
    """One request the fake server got, and how it answered."""

    at: float
    headers: dict[str, str]
    events: list[dict[str, Any]]
    status: int


@dataclass
class FakeServer:
    """A real HTTP server on loopback answering with scripted statuses (200 once the script runs out)."""

    port: int
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def stored_ids(self) -> list[str]:
        """Ids of the events of the requests answered 200, in arrival order."""
        return [event["id"] for request in self.received if request.status == 200 for event in request.events]


@contextlib.contextmanager
def fake_server(port: int | None = None, **options: Any) -> Iterator[FakeServer]:
    """Run a :class:`FakeServer` in a thread for the block."""
    state = FakeServer(port or free_port(), **options)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            events = json.loads(body)
            with lock:
                status, headers = state.script.pop(0) if state.script else (200, {})
                state.received.append(Received(time.monotonic(), dict(self.headers.items()), events, status))
            time.sleep(state.delay)
            answer = {"accepted": len(events), "duplicates": 0, "filtered": 0, "rejected": []}
            if status == 422:
                answer = {"accepted": 0, "duplicates": 0, "filtered": 0, "rejected": [{"index": 0, "reason": "bad"}]}
            payload = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            """A client that gave up waiting (the exporter shutting down) is expected here."""

    server = Server(("127.0.0.1", state.port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def make_batch(count: int, session_id: str = "s-http") -> Batch:
    """A batch of ``count`` message events, built as the recorder builds them."""
    recorder = Recorder(
        _Discard(), default_session_id=session_id, default_agent_id="agent", register_atexit=False, flush_interval=60
    )
    for index in range(count):
        recorder.emit(EventType.MESSAGE, f"m{index}")
    records = recorder._take(count)
    recorder.shutdown(1)
    return Batch(records, recorder.converter)


class _Discard:
    def export(self, batch: Batch) -> None:
        pass

    def shutdown(self, timeout: float) -> None:
        pass


def exporter_for(url: str, spool: Path, **options: Any) -> HttpExporter:
    """An exporter with short timeouts and backoffs for tests."""
    settings: dict[str, Any] = {"spool_dir": spool, "backoff_base": 0.05, "down_min": 0.2, "timeout": 5.0}
    settings.update(options)
    return HttpExporter(url, **settings)


def wait_for(condition: Any, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it is true or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def test_events_url_appends_the_ingest_path_once() -> None:
    """A base URL gets /api/v1/events; a URL that already ends with it is kept."""
    assert events_url("http://h:8000/") == "http://h:8000/api/v1/events"
    assert events_url("http://h:8000/api/v1/events") == "http://h:8000/api/v1/events"


def test_batches_are_gzipped_json_with_bearer_auth(tmp_path: Path) -> None:
    """A batch arrives as one gzip JSON array with the API key as a Bearer token."""
    with fake_server() as server:
        exporter = exporter_for(server.url, tmp_path, api_key="k" * 20)
        batch = make_batch(5)
        exporter.export(batch)
        assert exporter.flush(10)
        exporter.shutdown(1)
    (request,) = server.received
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["Authorization"] == "Bearer " + "k" * 20
    assert [event["content"] for event in request.events] == [f"m{index}" for index in range(5)]
    assert request.events[0]["type"] == "message" and request.events[0]["session_id"] == "s-http"
    assert exporter.delivered_events == 5 and exporter.spooled_batches == 0


def test_retries_with_exponential_backoff_until_delivered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two 503s, then 200: three attempts, waits growing 0.05 s then 0.1 s (jitter pinned to its maximum)."""
    monkeypatch.setattr(http_module.random, "uniform", lambda low, high: high)
    with fake_server(script=[(503, {}), (503, {})]) as server:
        exporter = exporter_for(server.url, tmp_path)
        exporter.export(make_batch(3))
        assert exporter.flush(10)
        exporter.shutdown(1)
    assert [request.status for request in server.received] == [503, 503, 200]
    first, second, third = (request.at for request in server.received)
    assert second - first >= 0.05 and third - second >= 0.1
    assert exporter.requests == 3 and exporter.delivered_events == 3 and not exporter.is_down


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    """A 429 with Retry-After: 0.3 delays the next attempt by at least that."""
    with fake_server(script=[(429, {"Retry-After": "0.3"})]) as server:
        exporter = exporter_for(server.url, tmp_path)
        exporter.export(make_batch(1))
        assert exporter.flush(10)
        exporter.shutdown(1)
    assert [request.status for request in server.received] == [429, 200]
    assert server.received[1].at - server.received[0].at >= 0.3


def test_too_large_batches_are_split(tmp_path: Path) -> None:
    """A 413 splits the batch in halves that are sent separately; every event arrives."""
    with fake_server(script=[(413, {})]) as server:
        exporter = exporter_for(server.url, tmp_path)
        exporter.export(make_batch(6))
        assert exporter.flush(10)
        exporter.shutdown(1)
    assert [len(request.events) for request in server.received] == [6, 3, 3]
    assert len(set(server.stored_ids())) == 6


def test_refused_events_are_not_sent_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A 422 means the server kept the refused events as dead letters: no retry, no spool, logged once."""
    with caplog.at_level(logging.WARNING, "escai.sdk"), fake_server(script=[(422, {}), (422, {})]) as server:
        exporter = exporter_for(server.url, tmp_path)
        exporter.export(make_batch(2))
        exporter.export(make_batch(2))
        assert exporter.flush(10)
        exporter.shutdown(1)
    assert len(server.received) == 2 and exporter.rejected_events == 2 and exporter.spooled_batches == 0
    assert sum("refused" in record.message for record in caplog.records) == 1


def test_wrong_key_keeps_the_batch_in_the_spool(tmp_path: Path) -> None:
    """A 401 is not retried: the batch is spooled for after the configuration is fixed, and the server is down."""
    with fake_server(script=[(401, {})]) as server:
        exporter = exporter_for(server.url, tmp_path, down_min=30)
        exporter.export(make_batch(4))
        assert exporter.flush(10)
        assert exporter.is_down and exporter.spooled_batches == 1
        exporter.export(make_batch(4))  # while down: straight to the spool, no request
        exporter.shutdown(1)
    assert len(server.received) == 1
    files = sorted(tmp_path.glob("*.batch"))
    assert [len(decode_body(path.read_bytes())) for path in files] == [4, 4]


def test_dead_server_spools_and_replays_when_it_comes_back(tmp_path: Path) -> None:
    """Connection refused: batches go to the spool; once the server listens, each event arrives exactly once."""
    port = free_port()
    exporter = exporter_for(f"http://127.0.0.1:{port}", tmp_path, max_retries=1, spill_chunk_events=1)
    batches = [make_batch(10, session_id=f"s{index}") for index in range(3)]
    for batch in batches:
        exporter.export(batch)
    assert exporter.flush(10)
    assert exporter.is_down and exporter.lost_events == 0
    assert len(list(tmp_path.glob("*.batch"))) == 3
    with fake_server(port) as server:
        assert wait_for(lambda: exporter.backlog == 0)
        exporter.shutdown(1)
    expected = [record[0] for batch in batches for record in batch.records]
    assert sorted(server.stored_ids()) == sorted(expected)
    assert exporter.replayed_batches == 3 and not list(tmp_path.glob("*.batch"))


def test_full_spool_counts_lost_events(tmp_path: Path) -> None:
    """A spool bounded below one batch refuses it: the events are counted lost, and nothing is written."""
    exporter = exporter_for(f"http://127.0.0.1:{free_port()}", tmp_path, spool_max_bytes=10, max_retries=0)
    exporter.export(make_batch(5))
    assert exporter.flush(10)
    exporter.shutdown(1)
    assert exporter.lost_events == 5 and not list(tmp_path.glob("*.batch"))


def test_slow_server_does_not_hold_up_shutdown(tmp_path: Path) -> None:
    """With a server that takes 3 s per answer, shutdown(1) returns in about a second and spools the rest."""
    with fake_server(delay=3.0) as server:
        exporter = exporter_for(server.url, tmp_path)
        for _ in range(3):
            exporter.export(make_batch(2))
        time.sleep(0.2)
        started = time.monotonic()
        exporter.shutdown(1.0)
        elapsed = time.monotonic() - started
        assert elapsed < 1.5
    spooled = [event["id"] for path in tmp_path.glob("*.batch") for event in decode_body(path.read_bytes())]
    assert len(spooled) == 6  # the batch in flight is kept as well: it may arrive twice, which ids make harmless


def test_orphaned_spool_files_are_adopted_and_replayed(tmp_path: Path) -> None:
    """A file left by a process that has exited is replayed by the next exporter on the same spool."""
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    batch = make_batch(4, session_id="orphan")
    (tmp_path / f"{time.time_ns():020d}-{dead_pid}-000000.batch").write_bytes(encode_records(batch))
    with fake_server() as server:
        exporter = exporter_for(server.url, tmp_path)
        assert wait_for(lambda: exporter.replayed_batches == 1)
        exporter.shutdown(1)
    assert server.stored_ids() == [record[0] for record in batch.records]
    assert server.received[0].events[0]["session_id"] == "orphan"


def test_spool_of_a_live_process_is_left_alone(tmp_path: Path) -> None:
    """Files of a process that is still running are not adopted (it replays them itself)."""
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as sleeper:
        try:
            (tmp_path / f"{time.time_ns():020d}-{sleeper.pid}-000000.batch").write_bytes(b"x")
            assert Spool(tmp_path).orphans() == []
        finally:
            sleeper.kill()
    sleeper.wait()
    assert len(Spool(tmp_path).orphans()) == 1


def test_records_form_round_trips_to_the_same_wire_events() -> None:
    """A batch spooled as records decodes to exactly the events it would have been sent as."""
    batch = make_batch(3)
    expected = json.loads(json.dumps(batch.wire(), default=str))
    assert decode_body(encode_records(batch)) == expected


def test_batches_set_aside_during_an_outage_are_spooled_in_chunks(tmp_path: Path) -> None:
    """While the server is down, small batches are written together: fewer, larger files, every event kept."""
    exporter = exporter_for(f"http://127.0.0.1:{free_port()}", tmp_path, max_retries=0, spill_chunk_events=20)
    records = make_batch(50)
    batches = [Batch(records.records[start : start + 10], records.converter) for start in range(0, 50, 10)]
    for batch in batches:
        exporter.export(batch)
    assert exporter.flush(10)
    exporter.shutdown(1)
    files = sorted(tmp_path.glob("*.batch"))
    assert len(files) <= 3
    spooled = sorted(event["id"] for path in files for event in decode_body(path.read_bytes()))
    assert spooled == sorted(record[0] for batch in batches for record in batch.records)
