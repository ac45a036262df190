"""``escai.init`` and the process-wide functions around it: flush, shutdown, and the monitor contract.

``init`` picks the exporter: with an endpoint (argument or ``ESCAI_ENDPOINT``) events are POSTed to
``{endpoint}/api/v1/events`` by :class:`~escai.sdk.http_exporter.HttpExporter`; without one they are stored in the
local database (``ESCAI_HOME/escai.db``, or ``database_url`` / ``ESCAI_DATABASE_URL``) through the same ingest
pipeline, by :class:`~escai.sdk.embedded_exporter.EmbeddedExporter`. Calling ``init`` again replaces the recorder:
the previous one is flushed and shut down first (within its ``shutdown_timeout``).

Environment variables read when the matching argument is not given: ``ESCAI_ENDPOINT``, ``ESCAI_API_KEY``,
``ESCAI_AGENT_ID``, ``ESCAI_AGENT_NAME``, ``ESCAI_FRAMEWORK``, ``ESCAI_SESSION_ID`` (the session of events emitted
outside any ``escai.session``), ``ESCAI_PARENT_ID``, ``ESCAI_SPOOL_DIR``, ``ESCAI_HOME``, ``ESCAI_DATABASE_URL``.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from escai.model.events import AgentEvent
from escai.sdk.errors import internal_errors_handled, report_internal_error
from escai.sdk.monitor import MonitoringSummary, process_monitor
from escai.sdk.recorder import Exporter, Recorder
from escai.sdk.runtime import default_agent_id, get_recorder, set_recorder
from escai.sdk.spool import DEFAULT_MAX_BYTES

_init_lock = threading.Lock()


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _embedded_exporter(database_url: str | None) -> Exporter:
    from escai.sdk.embedded_exporter import EmbeddedExporter
    from escai.settings import Settings

    overrides: dict[str, Any] = {"host": "127.0.0.1"}  # no server binds here: a server's bind settings do not apply
    if database_url:
        overrides["database_url"] = database_url
    return EmbeddedExporter(Settings(**overrides))


def init(
    endpoint: str | None = None,
    *,
    api_key: str | None = None,
    agent_id: str | None = None,
    agent_name: str | None = None,
    framework: str | None = None,
    embedded: bool | None = None,
    database_url: str | None = None,
    spool_dir: str | Path | None = None,
    spool_max_bytes: int = DEFAULT_MAX_BYTES,
    session_id: str | None = None,
    max_buffer: int = 100_000,
    batch_size: int = 500,
    flush_interval: float = 0.5,
    shutdown_timeout: float = 5.0,
    exporter: Exporter | None = None,
) -> Recorder | None:
    """Configure ESCAI for this process and return the recorder; see :mod:`escai.sdk.api`. Never raises.

    ``embedded=True`` stores locally even when an endpoint is configured; ``embedded=False`` with no endpoint
    falls back to ``http://127.0.0.1:8000``. ``spool_dir`` (default ``ESCAI_HOME/spool``) and ``spool_max_bytes``
    (256 MiB) bound what is kept on disk while the server cannot be reached. ``max_buffer`` bounds the events
    held in memory (beyond it new events are dropped and counted); ``batch_size`` and ``flush_interval`` shape
    the batches; ``shutdown_timeout`` bounds the flush at exit. ``exporter`` replaces the HTTP/embedded choice
    (tests, custom sinks). Returns None if
    configuration failed (the failure is logged; the program runs unmonitored).
    """
    with _init_lock, internal_errors_handled("escai.init"):
        endpoint = endpoint or _env("ESCAI_ENDPOINT")
        use_embedded = embedded if embedded is not None else endpoint is None
        if exporter is None:
            if use_embedded:
                exporter = _embedded_exporter(database_url or _env("ESCAI_DATABASE_URL"))
            else:
                from escai.sdk.http_exporter import HttpExporter

                spool = spool_dir or _env("ESCAI_SPOOL_DIR")
                exporter = HttpExporter(
                    endpoint or "http://127.0.0.1:8000",
                    api_key=api_key or _env("ESCAI_API_KEY"),
                    spool_dir=spool,
                    spool_max_bytes=spool_max_bytes,
                )
        agent_name = agent_name or _env("ESCAI_AGENT_NAME")
        recorder = Recorder(
            exporter,
            default_session_id=session_id or _env("ESCAI_SESSION_ID") or uuid.uuid4().hex,
            default_agent_id=agent_id or _env("ESCAI_AGENT_ID") or agent_name or default_agent_id(),
            default_agent_name=agent_name,
            default_parent_id=_env("ESCAI_PARENT_ID"),
            default_framework=framework or _env("ESCAI_FRAMEWORK"),
            max_buffer=max_buffer,
            batch_size=batch_size,
            flush_interval=flush_interval,
            shutdown_timeout=shutdown_timeout,
        )
        previous = set_recorder(recorder)
        if previous is not None:
            previous.shutdown()
        return recorder
    return None


def flush(timeout: float = 5.0) -> bool:
    """Deliver every event captured so far (or spool it, if the server is down); True if done within ``timeout``."""
    recorder = get_recorder()
    if recorder is None:
        return True
    with internal_errors_handled("escai.flush"):
        return recorder.flush(timeout)
    return False


def shutdown(timeout: float | None = None) -> None:
    """Flush and stop the process-wide recorder (``atexit`` does this too); later events are not recorded."""
    recorder = set_recorder(None)
    if recorder is not None:
        with internal_errors_handled("escai.shutdown"):
            recorder.shutdown(timeout)


def start_monitoring(
    agent_id: str | None = None,
    task: Any = None,
    *,
    agent_name: str | None = None,
    framework: str | None = None,
    session_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """Open a monitoring session and return its id (see :class:`escai.sdk.monitor.Monitor`)."""
    return process_monitor().start_monitoring(
        agent_id, task, agent_name=agent_name, framework=framework, session_id=session_id, metadata=metadata
    )


def stop_monitoring(
    session_id: str,
    *,
    success: bool | None = None,
    score: float | None = None,
    error: BaseException | None = None,
) -> MonitoringSummary:
    """Close a monitoring session and return its :class:`~escai.sdk.monitor.MonitoringSummary`."""
    return process_monitor().stop_monitoring(session_id, success=success, score=score, error=error)


def capture_event(event: AgentEvent | Mapping[str, Any]) -> str | None:
    """Record one event (an :class:`AgentEvent` or a dict of its fields); return its id, None if not recorded."""
    try:
        return process_monitor().capture_event(event)
    except Exception as error:  # capture_event handles its own errors; this guards the lookup itself
        report_internal_error("capture_event", error)
        return None
