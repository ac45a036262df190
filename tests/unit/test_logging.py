"""Tests for escai.ops.logging: JSON format, context propagation, decorator, stdlib routing."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import multiprocessing
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from escai.ops.logging import (
    configure_logging,
    get_correlation_id,
    get_log_context,
    get_logger,
    log_context,
    new_correlation_id,
    render_json,
    reset_logging,
    run_in_executor_with_context,
    submit_with_context,
    with_log_context,
)
from escai.ops.logging_context import bind_log_context, clear_log_context

RESERVED = ["timestamp", "level", "logger", "message", "correlation_id", "session_id", "component"]


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Leave logging and the log context exactly as other test files expect them."""
    clear_log_context()
    yield
    reset_logging()
    clear_log_context()


@pytest.fixture
def buf() -> io.StringIO:
    """A JSON-configured in-memory log stream at INFO."""
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Parse every line written to ``stream`` as JSON."""
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_json_lines_have_all_fields_in_order(buf: io.StringIO) -> None:
    """Each event is one parseable JSON line with the reserved fields first and metadata after."""
    log = get_logger("escai.test", component="store")
    with log_context(correlation_id="c-1", session_id="s-1"):
        log.info("stored %s", "row", rows=3)
    (event,) = lines(buf)
    assert list(event)[:7] == RESERVED
    assert event["level"] == "info"
    assert event["logger"] == "escai.test"
    assert event["message"] == "stored row"
    assert (event["correlation_id"], event["session_id"], event["component"]) == ("c-1", "s-1", "store")
    assert event["rows"] == 3
    assert event["timestamp"].endswith("Z")
    parsed = dt.datetime.fromisoformat(event["timestamp"])
    assert parsed.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - parsed).total_seconds()) < 60


def test_unset_standard_fields_are_null(buf: io.StringIO) -> None:
    """Correlation id, session id and component are present as null when nothing binds them."""
    get_logger("escai.test").warning("plain")
    (event,) = lines(buf)
    assert event["correlation_id"] is None
    assert event["session_id"] is None
    assert event["component"] is None


def test_colliding_field_names_are_kept_with_underscore(buf: io.StringIO) -> None:
    """A caller field named like a reserved key is kept as ``<key>_`` rather than overwriting it."""
    get_logger("escai.test").info("real", level="user-level", logger="mine")
    (event,) = lines(buf)
    assert event["level"] == "info"
    assert event["level_"] == "user-level"
    assert event["logger_"] == "mine"


def test_special_types_serialise(buf: io.StringIO) -> None:
    """UUIDs, datetimes, Decimal, Path, sets, bytes, exceptions and huge ints all serialise."""
    ident = uuid.uuid4()
    when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    get_logger("escai.test").info(
        "types",
        ident=ident,
        when=when,
        cost=Decimal("0.10"),
        path=Path("/var/log/escai"),
        tags={"b", "a"},
        raw=b"ok\xff",
        err=ValueError("bad value"),
        elapsed=dt.timedelta(seconds=1.5),
    )
    (event,) = lines(buf)
    assert event["ident"] == str(ident)
    assert event["when"] == "2025-01-02T03:04:05Z"
    assert event["cost"] == "0.10"
    assert event["path"] == str(Path("/var/log/escai"))
    assert event["tags"] == ["a", "b"]
    assert event["raw"] == "ok\\xff"
    assert event["err"]["type"] == "ValueError"
    assert event["err"]["message"] == "bad value"
    assert event["elapsed"] == 1.5


def test_render_json_falls_back_when_orjson_refuses() -> None:
    """Integers beyond 64 bits and unrepresentable objects still render as JSON instead of raising."""

    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert json.loads(render_json({"big": 2**80}))["big"] == 2**80
    assert json.loads(render_json({"obj": Unprintable()}))["obj"].startswith("<unrepresentable")
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    assert json.loads(render_json({"cyclic": cyclic}))["cyclic"] == "{'self': {...}}"


def _fail() -> None:
    try:
        raise KeyError("inner")
    except KeyError as exc:
        raise RuntimeError("outer failure") from exc


def test_exception_serialisation_includes_traceback(buf: io.StringIO) -> None:
    """``log.exception`` emits type, message and the full traceback including the chained cause."""
    try:
        _fail()
    except RuntimeError:
        get_logger("escai.test").exception("failed")
    (event,) = lines(buf)
    assert event["level"] == "error"
    exc = event["exception"]
    assert exc["type"] == "RuntimeError"
    assert exc["message"] == "outer failure"
    assert exc["traceback"].startswith("Traceback (most recent call last):")
    assert "_fail" in exc["traceback"]
    assert "KeyError: 'inner'" in exc["traceback"]
    assert "\n" not in buf.getvalue().rstrip("\n")  # still one line


def test_stdlib_records_come_out_as_the_same_json(buf: io.StringIO) -> None:
    """Plain ``logging`` records (like sqlalchemy's) get the same fields, context and extras."""
    with log_context(correlation_id="c-std", component="db"):
        logging.getLogger("sqlalchemy.engine").warning("query took %d ms", 12, extra={"table": "events"})
        try:
            raise OSError("disk")
        except OSError:
            logging.getLogger("uvicorn.error").exception("crash")
    first, second = lines(buf)
    assert list(first)[:7] == RESERVED
    assert first["logger"] == "sqlalchemy.engine"
    assert first["level"] == "warning"
    assert first["message"] == "query took 12 ms"
    assert first["correlation_id"] == "c-std"
    assert first["component"] == "db"
    assert first["table"] == "events"
    assert second["exception"]["type"] == "OSError"
    assert "Traceback" in second["exception"]["traceback"]


def test_adopted_loggers_lose_their_handlers_until_reset() -> None:
    """uvicorn-style loggers with their own handlers are routed to ESCAI and restored by reset."""
    access = logging.getLogger("uvicorn.access")
    own = logging.NullHandler()
    access.addHandler(own)
    access.propagate = False
    try:
        stream = io.StringIO()
        configure_logging(stream=stream)
        access.info('%s - "%s %s"', "127.0.0.1", "GET", "/health")
        (event,) = lines(stream)
        assert event["message"] == '127.0.0.1 - "GET /health"'
        reset_logging()
        assert own in access.handlers
        assert access.propagate is False
    finally:
        access.removeHandler(own)
        access.propagate = True


def test_level_filtering_and_reconfigure_apply_to_existing_loggers() -> None:
    """A logger obtained before reconfiguring follows the new level (no stale cached filter)."""
    stream = io.StringIO()
    log = get_logger("escai.test")
    configure_logging(level="INFO", stream=stream)
    log.debug("hidden")
    log.info("shown")
    configure_logging(level="DEBUG", stream=stream)
    log.debug("now shown")
    assert [e["message"] for e in lines(stream)] == ["shown", "now shown"]


def test_configure_is_idempotent_and_reset_restores_root() -> None:
    """Repeated identical configuration installs one handler, and reset removes it and restores the level."""
    root = logging.getLogger()
    before_level, before_handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    configure_logging(level="WARNING", stream=stream)
    configure_logging(level="WARNING", stream=stream)
    ours = [h for h in root.handlers if h.get_name() == "escai"]
    assert len(ours) == 1
    configure_logging(level="INFO", stream=stream)
    assert len([h for h in root.handlers if h.get_name() == "escai"]) == 1
    reset_logging()
    assert root.level == before_level
    assert root.handlers == before_handlers


def test_console_renderer_produces_human_text() -> None:
    """``fmt="console"`` prints readable, uncoloured text for a non-TTY stream, tracebacks included."""
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="console", stream=stream)
    log = get_logger("escai.test", component="api")
    log.info("server started", port=8080)
    try:
        raise ValueError("nope")
    except ValueError:
        log.exception("request failed")
    text = stream.getvalue()
    assert "server started" in text
    assert "port=8080" in text
    assert "component=api" in text
    assert "correlation_id" not in text  # unset ids are hidden for people
    assert "Traceback (most recent call last)" in text
    assert "ValueError: nope" in text
    assert "\x1b[" not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


class _FakeTTY(io.StringIO):
    """An in-memory stream that claims to be a terminal."""

    def isatty(self) -> bool:
        """Pretend to be interactive."""
        return True


def test_console_colours_only_on_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console renderer colours output for a TTY and honours NO_COLOR."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = _FakeTTY()
    configure_logging(fmt="console", stream=tty)
    get_logger("escai.test").info("coloured")
    assert "\x1b[" in tty.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    plain = _FakeTTY()
    configure_logging(fmt="console", stream=plain)
    get_logger("escai.test").info("plain")
    assert "\x1b[" not in plain.getvalue()


def test_logger_levels_override_and_are_restored() -> None:
    """Per-logger levels silence noisy libraries and are put back by reset_logging."""
    noisy = logging.getLogger("escai.test.noisy")
    stream = io.StringIO()
    configure_logging(stream=stream, logger_levels={"escai.test.noisy": "ERROR"})
    noisy.warning("suppressed")
    noisy.error("kept")
    get_logger("escai.test.noisy").warning("also suppressed")
    assert [e["message"] for e in lines(stream)] == ["kept"]
    reset_logging()
    assert noisy.level == logging.NOTSET


def test_file_output_is_json_even_for_console_stream(tmp_path: Path) -> None:
    """The log file always gets JSON lines, and its parent directory is created."""
    target = tmp_path / "nested" / "escai.log"
    configure_logging(fmt="console", file=target, stream=io.StringIO())
    get_logger("escai.test").info("to file", n=1)
    reset_logging()  # closes (and flushes) the file
    (line,) = target.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["message"] == "to file"


def test_unconfigured_logger_still_emits_json_message(caplog: pytest.LogCaptureFixture) -> None:
    """Before configure_logging, stdlib handlers see the event as a JSON string message."""
    caplog.set_level(logging.INFO)
    get_logger("escai.early").info("early", n=1)
    (record,) = [r for r in caplog.records if r.name == "escai.early"]
    assert json.loads(record.getMessage())["n"] == 1


def test_new_correlation_id_is_unique_uuid() -> None:
    """new_correlation_id returns distinct UUID strings and does not bind them."""
    first, second = new_correlation_id(), new_correlation_id()
    assert first != second
    assert str(uuid.UUID(first)) == first
    assert get_correlation_id() is None


def test_log_context_restores_on_exception() -> None:
    """Leaving a log_context block, even by an exception, restores previous values and unset keys."""
    seen: list[dict[str, Any]] = []

    def fail_inside() -> None:
        with log_context(correlation_id="inner", agent="a"):
            seen.append(get_log_context())
            raise RuntimeError("boom")

    with log_context(correlation_id="outer", session_id="s"):
        with pytest.raises(RuntimeError, match="boom"):
            fail_inside()
        assert seen == [{"correlation_id": "inner", "session_id": "s", "agent": "a"}]
        assert get_log_context() == {"correlation_id": "outer", "session_id": "s"}
    assert get_log_context() == {}


async def test_async_log_context_restores_on_exception() -> None:
    """The same object works with ``async with`` and restores on exception."""
    seen: list[str | None] = []

    async def fail_inside() -> None:
        async with log_context(correlation_id="async"):
            seen.append(get_correlation_id())
            raise ValueError("async boom")

    with pytest.raises(ValueError, match="async boom"):
        await fail_inside()
    assert seen == ["async"]
    assert get_correlation_id() is None


async def test_one_log_context_object_supports_with_and_async_with() -> None:
    """The object returned by log_context can be used by ``with`` and then by ``async with``."""
    ctx = log_context(component="both")
    with ctx:
        assert get_log_context() == {"component": "both"}
    async with ctx:
        assert get_log_context() == {"component": "both"}
    assert get_log_context() == {}


async def test_correlation_ids_do_not_bleed_between_gather_tasks(buf: io.StringIO) -> None:
    """Two concurrently interleaved tasks keep their own correlation ids in context and output."""
    log = get_logger("escai.test")

    async def worker(name: str) -> list[str | None]:
        seen = []
        async with log_context(correlation_id=f"cid-{name}", worker=name):
            for step in range(3):
                await asyncio.sleep(0)  # force interleaving with the other task
                seen.append(get_correlation_id())
                log.info("step", step=step)
        return seen

    with log_context(correlation_id="parent"):
        results = await asyncio.gather(worker("a"), worker("b"))
        assert get_correlation_id() == "parent"
    assert list(results) == [["cid-a"] * 3, ["cid-b"] * 3]
    events = lines(buf)
    assert len(events) == 6
    assert all(e["correlation_id"] == f"cid-{e['worker']}" for e in events)


async def test_async_logger_methods_keep_context(buf: io.StringIO) -> None:
    """structlog's async methods (``ainfo``) run in a thread but still carry the context."""
    async with log_context(correlation_id="via-ainfo"):
        await get_logger("escai.test").ainfo("async call")
    (event,) = lines(buf)
    assert event["correlation_id"] == "via-ainfo"


def test_context_is_carried_into_thread_pool(buf: io.StringIO) -> None:
    """submit_with_context makes the submitting context visible in a ThreadPoolExecutor worker."""
    log = get_logger("escai.test")

    def work(n: int) -> dict[str, Any]:
        log.info("in thread", n=n)
        return get_log_context()

    with ThreadPoolExecutor(max_workers=2) as pool:
        with log_context(correlation_id="thread-cid", session_id="s-t"):
            future = submit_with_context(pool, work, 7)
        assert future.result(timeout=10) == {"correlation_id": "thread-cid", "session_id": "s-t"}
        assert pool.submit(get_log_context).result(timeout=10) == {}  # nothing leaked into the worker
    (event,) = lines(buf)
    assert event["correlation_id"] == "thread-cid"
    assert event["n"] == 7


async def test_run_in_executor_with_context_default_and_thread_pool() -> None:
    """run_in_executor_with_context carries the context to the loop's default pool and to a thread pool."""
    async with log_context(correlation_id="loop-cid"):
        assert (await run_in_executor_with_context(None, get_log_context)) == {"correlation_id": "loop-cid"}
        with ThreadPoolExecutor(max_workers=1) as pool:
            result = await run_in_executor_with_context(pool, get_log_context)
    assert result == {"correlation_id": "loop-cid"}


@pytest.fixture(scope="module")
def process_pool() -> Iterator[ProcessPoolExecutor]:
    """A real single-worker process pool (spawn, so no fork-with-threads hazards)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def test_context_is_carried_into_process_pool(process_pool: ProcessPoolExecutor) -> None:
    """submit_with_context pickles a snapshot that is re-bound in the child process, without leaking."""
    with log_context(correlation_id="proc-cid", session_id="s-p", attempt=2):
        future = submit_with_context(process_pool, get_log_context)
        child_pid = submit_with_context(process_pool, os.getpid).result(timeout=60)
    assert future.result(timeout=60) == {"correlation_id": "proc-cid", "session_id": "s-p", "attempt": 2}
    assert child_pid != os.getpid()
    assert process_pool.submit(get_log_context).result(timeout=60) == {}


async def test_run_in_executor_with_context_process_pool(process_pool: ProcessPoolExecutor) -> None:
    """run_in_executor_with_context carries the context into a process pool from async code."""
    async with log_context(correlation_id="proc-async"):
        result = await run_in_executor_with_context(process_pool, get_log_context)
    assert result == {"correlation_id": "proc-async"}


def test_decorator_binds_positional_and_keyword_args_sync() -> None:
    """with_log_context binds static fields and arguments passed positionally or by keyword."""

    @with_log_context(component="ingest", bind_args=("session_id", "agent"))
    def handle(payload: str, session_id: str, agent: str | None = None) -> dict[str, Any]:
        return get_log_context()

    assert handle("p", "s-pos") == {"component": "ingest", "session_id": "s-pos"}
    assert handle("p", session_id="s-kw", agent="planner") == {
        "component": "ingest",
        "session_id": "s-kw",
        "agent": "planner",
    }
    assert get_log_context() == {}
    assert handle.__name__ == "handle"

    @with_log_context(bind_args="session_id")
    def single(session_id: str) -> dict[str, Any]:
        return get_log_context()

    assert single("s-str") == {"session_id": "s-str"}


async def test_decorator_binds_args_async() -> None:
    """with_log_context works on coroutine functions, with positional and keyword arguments."""

    @with_log_context(bind_args={"sid": "session_id"}, component="api")
    async def handle(sid: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        return get_log_context()

    assert await handle("s-1") == {"component": "api", "session_id": "s-1"}
    assert await handle(sid="s-2") == {"component": "api", "session_id": "s-2"}
    assert get_log_context() == {}


def test_decorator_restores_context_on_exception_and_methods() -> None:
    """Decorated methods bind their arguments, and the context is restored when they raise."""

    class Service:
        @with_log_context(bind_args=("session_id",))
        def fail(self, session_id: str) -> None:
            assert get_log_context() == {"session_id": session_id}
            raise LookupError(session_id)

    bind_log_context(session_id="outer")
    with pytest.raises(LookupError):
        Service().fail("inner")
    assert get_log_context() == {"session_id": "outer"}


def test_decorator_rejects_unknown_parameters_and_generators() -> None:
    """Misuse is reported when decorating, not on the first call."""
    with pytest.raises(TypeError, match="no parameter"):

        @with_log_context(bind_args=("missing",))
        def f(x: int) -> int:
            return x

    with pytest.raises(TypeError, match="generator"):

        @with_log_context(component="x")
        def gen() -> Iterator[int]:
            yield 1


def test_decorator_leaves_bad_calls_to_the_function() -> None:
    """A call with wrong arguments raises the function's own TypeError, not one from binding."""

    @with_log_context(bind_args=("x",))
    def f(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="unexpected keyword"):
        f(y=1)  # type: ignore[call-arg]  # deliberately wrong call
