"""The recorder: ``emit`` appends a plain dict to a bounded buffer on the caller's thread; a background thread
hands batches to an exporter.

``emit`` is the capture hot path. It builds one small dict (no validation, no serialisation, no I/O, no lock) and
appends it to a deque; when the buffer is full the event is dropped and counted, so the agent is never blocked.
Turning records into wire JSON (ids, ISO timestamps) happens on the exporter thread.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from escai.model.events import EventStatus, EventType
from escai.sdk.context import current_scope
from escai.sdk.errors import internal_errors_handled, report_internal_error

WireEvent = dict[str, Any]

# Event ids: a random per-process prefix and a counter. Unique across processes, and ~10x cheaper than uuid4.
_ID_PREFIX = os.urandom(8).hex()
_counter = itertools.count()


def new_event_id() -> str:
    """A new event id, unique across processes."""
    return f"{_ID_PREFIX}{next(_counter):08x}"


class Exporter(Protocol):
    """Sends batches of wire events somewhere. Called only from the recorder's background thread."""

    def export(self, events: list[WireEvent]) -> None:
        """Deliver a batch; handle its own retries and spooling; may raise (the batch is then counted lost)."""
        ...

    def shutdown(self, timeout: float) -> None:
        """Deliver what is pending within ``timeout`` seconds and release resources."""
        ...


def _finish(record: WireEvent) -> WireEvent:
    """Turn a buffered record into the wire form the ingest API takes."""
    nanoseconds = record.pop("timestamp_ns")
    record["timestamp"] = datetime.fromtimestamp(nanoseconds / 1e9, UTC).isoformat()
    return {key: value for key, value in record.items() if value is not None}


class Recorder:
    """Buffers events from any thread and exports them in batches from one background thread."""

    def __init__(
        self,
        exporter: Exporter,
        *,
        default_session_id: str,
        default_agent_id: str,
        max_buffer: int = 100_000,
        batch_size: int = 500,
        flush_interval: float = 0.5,
    ) -> None:
        self.exporter = exporter
        self.default_session_id = default_session_id
        self.default_agent_id = default_agent_id
        self.dropped = 0
        """Events dropped because the buffer was full."""
        self.lost = 0
        """Events whose export failed for good (the exporter could neither deliver nor spool them)."""
        self.exported = 0
        self._buffer: deque[WireEvent] = deque()
        self._max_buffer = max_buffer
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="escai-exporter", daemon=True)
        self._thread.start()
        atexit.register(self.shutdown)

    def emit(
        self,
        type: EventType | str,  # noqa: A002 - the event field is called "type" everywhere
        *,
        content: str | None = None,
        name: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        agent_id: str | None = None,
        agent_name: str | None = None,
        framework: str | None = None,
        parent_id: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        step_index: int | None = None,
        tokens_input: int | None = None,
        tokens_output: int | None = None,
        cost: float | None = None,
        duration_ms: float | None = None,
        status: EventStatus | str | None = None,
        event_id: str | None = None,
        timestamp_ns: int | None = None,
    ) -> str:
        """Record one event; return its id (to use as ``parent_id`` of later events). Never raises, never blocks.

        Session, agent, framework and parent default to the current :func:`~escai.sdk.context.scoped` block.
        """
        try:
            scope = current_scope()
            event_id = event_id or new_event_id()
            if len(self._buffer) >= self._max_buffer:
                self.dropped += 1
                return event_id
            self._buffer.append(
                {
                    "id": event_id,
                    "type": type.value if isinstance(type, EventType) else type,
                    "session_id": session_id or scope.session_id or self.default_session_id,
                    "agent_id": agent_id or scope.agent_id or self.default_agent_id,
                    "agent_name": agent_name or scope.agent_name,
                    "framework": framework or scope.framework,
                    "parent_id": parent_id or scope.parent_id,
                    "timestamp_ns": timestamp_ns or time.time_ns(),
                    "content": content,
                    "name": name,
                    "attributes": dict(attributes) if attributes else None,
                    "trace_id": trace_id,
                    "span_id": span_id,
                    "step_index": step_index,
                    "tokens_input": tokens_input,
                    "tokens_output": tokens_output,
                    "cost": cost,
                    "duration_ms": duration_ms,
                    "status": status.value if isinstance(status, EventStatus) else status,
                }
            )
            if len(self._buffer) >= self._batch_size:
                self._wake.set()
            return event_id
        except Exception as error:
            report_internal_error("Recorder.emit", error)
            return event_id or ""

    @property
    def pending(self) -> int:
        """Events buffered and not yet handed to the exporter."""
        return len(self._buffer)

    def flush(self, timeout: float = 5.0) -> bool:
        """Hand everything buffered to the exporter; True if done within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self._buffer or not self._idle.is_set():
            self._wake.set()
            if time.monotonic() >= deadline or not self._thread.is_alive():
                return False
            time.sleep(0.002)
        return True

    def shutdown(self, timeout: float = 5.0) -> None:
        """Flush, stop the background thread and shut the exporter down, within about ``timeout`` seconds."""
        if self._stopping:
            return
        started = time.monotonic()
        with internal_errors_handled("Recorder.shutdown"):
            self.flush(timeout)
            self._stopping = True
            self._wake.set()
            self._thread.join(max(0.0, timeout - (time.monotonic() - started)))
            self.exporter.shutdown(max(0.1, timeout - (time.monotonic() - started)))
        atexit.unregister(self.shutdown)

    def _take_batch(self) -> list[WireEvent]:
        batch = []
        popleft = self._buffer.popleft
        for _ in range(self._batch_size):
            try:
                batch.append(popleft())
            except IndexError:
                break
        return batch

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            while self._buffer:
                self._idle.clear()
                batch = self._take_batch()
                try:
                    self.exporter.export([_finish(record) for record in batch])
                    self.exported += len(batch)
                except Exception as error:
                    self.lost += len(batch)
                    with internal_errors_handled("exporter"):
                        report_internal_error(f"{type(self.exporter).__name__}.export", error)
            self._idle.set()
