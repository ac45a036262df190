"""The recorder: ``emit`` appends a tuple to a bounded buffer on the caller's thread; a background thread hands
batches of them to an exporter.

``emit`` is the capture hot path. It builds one tuple (no dict, no validation, no serialisation, no I/O, no lock),
and appends it to a deque; when the buffer is full the event is dropped and counted, so the agent is never blocked.
Everything else (resolving the scope's session/agent/parent, formatting the timestamp) happens later, off the
caller's thread, and only for events that are sent (see :mod:`escai.sdk.wire`).

The buffer takes ownership of what ``emit`` is given: an ``attributes`` mapping is not copied, so a caller must not
change it after the call (ESCAI's own instrumentors always pass a fresh dict).
"""

from __future__ import annotations

import atexit
import dataclasses
import itertools
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from escai.model.events import EventStatus, EventType
from escai.sdk.context import read_scope
from escai.sdk.errors import internal_errors_handled, report_internal_error
from escai.sdk.wire import Batch, Defaults, Record, WireConverter

_logger = logging.getLogger("escai.sdk")


class _IdSource:
    """Event ids: a random per-process prefix and a decimal counter, ~5x cheaper than ``uuid4().hex``.

    The prefix is renewed in a forked child, so parent and child never hand out the same id.
    """

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.next = itertools.count().__next__


_ids = _IdSource()


def new_event_id() -> str:
    """A new event id, unique across processes."""
    return _ids.prefix + str(_ids.next())


class Exporter(Protocol):
    """Sends batches somewhere. ``export`` is called only from the recorder's background thread."""

    def export(self, batch: Batch) -> None:
        """Deliver (or queue, or spool) a batch; may raise (the batch is then counted lost)."""
        ...

    def shutdown(self, timeout: float) -> None:
        """Deliver or keep what is pending within ``timeout`` seconds and release resources."""
        ...


@runtime_checkable
class FlushingExporter(Protocol):
    """An exporter that queues batches and can wait until they are delivered."""

    def flush(self, timeout: float) -> bool:
        """Wait until every batch handed over so far is delivered (or spooled); True if done in time."""
        ...


@runtime_checkable
class SpillingExporter(Protocol):
    """An exporter that can keep batches it has no time left to deliver (the HTTP exporter's spool)."""

    def spill(self, batch: Batch) -> bool:
        """Keep ``batch`` for later delivery without touching the network; False if it could not be kept."""
        ...


@dataclass(slots=True)
class SessionStats:
    """Counts of the events of one watched session (see :meth:`Recorder.watch_session`)."""

    events: int = 0
    errors: int = 0
    llm_calls: int = 0
    tool_calls: int = 0
    tokens_input: int = 0
    tokens_output: int = 0
    cost: float = 0.0

    def add(self, record: Record) -> None:
        """Count one buffered record."""
        self.events += 1
        kind = record[1]
        if kind == "error" or record[19] == "error":
            self.errors += 1
        if kind == "llm_request":
            self.llm_calls += 1
        elif kind == "tool_call":
            self.tool_calls += 1
        self.tokens_input += record[15] or 0
        self.tokens_output += record[16] or 0
        self.cost += record[17] or 0.0


_live_recorders: weakref.WeakSet[Recorder] = weakref.WeakSet()


class Recorder:
    """Buffers events from any thread and exports them in batches from one background thread."""

    def __init__(
        self,
        exporter: Exporter,
        *,
        default_session_id: str,
        default_agent_id: str,
        default_agent_name: str | None = None,
        default_parent_id: str | None = None,
        default_framework: str | None = None,
        max_buffer: int = 100_000,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        shutdown_timeout: float = 5.0,
        register_atexit: bool = True,
    ) -> None:
        self.exporter = exporter
        self.converter = WireConverter(
            Defaults(default_session_id, default_agent_id, default_agent_name, default_parent_id, default_framework)
        )
        self.shutdown_timeout = shutdown_timeout
        self.dropped = 0
        """Events dropped because the buffer was full (approximate if several threads overflow at once)."""
        self.lost = 0
        """Events that could neither be delivered nor kept (exporter failure, or no time left at shutdown)."""
        self.exported = 0
        """Events handed to the exporter successfully."""
        self._buffer: deque[Record] = deque()
        self._max_buffer = max_buffer
        self._batch_size = batch_size
        self._wake_at = batch_size - 1  # emit wakes the thread when the buffer reaches a batch
        self._flush_interval = flush_interval
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = False
        self._stopped = False
        self._take_lock = threading.Lock()
        self._watched: dict[str, SessionStats] = {}
        self._thread = self._start_thread()
        self._atexit = register_atexit
        if register_atexit:
            atexit.register(self.shutdown)
        _live_recorders.add(self)

    @property
    def default_session_id(self) -> str:
        """The session of events recorded outside any session scope."""
        return self.converter.defaults.session_id

    @property
    def default_agent_id(self) -> str:
        """The agent of events recorded outside any agent scope."""
        return self.converter.defaults.agent_id

    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="escai-exporter", daemon=True)
        thread.start()
        return thread

    def emit(
        self,
        type: EventType | str,  # the event field is called "type" everywhere
        content: str | None = None,
        *,
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
        _scope: Any = read_scope,
        _now: Any = time.time_ns,
    ) -> str:
        """Record one event; return its id (to use as ``parent_id`` of later events). Never raises, never blocks.

        Session, agent, framework and parent default to the current :func:`~escai.sdk.context.scoped` block,
        then to the recorder's defaults. ``attributes`` is kept as given (not copied): do not change it afterwards.
        """
        # Everything below is the capture hot path: default arguments bind the helpers once, and the tuple keeps
        # the arguments exactly as given, in escai.sdk.wire.RECORD_FIELDS order.
        try:
            if event_id is None:
                event_id = _ids.prefix + str(_ids.next())
            buffer = self._buffer
            size = len(buffer)
            if size >= self._max_buffer:
                self.dropped += 1
                return event_id
            record = (
                event_id, type, _scope(), timestamp_ns or _now(), content, name, attributes, session_id, agent_id,
                agent_name, framework, parent_id, trace_id, span_id, step_index, tokens_input, tokens_output, cost,
                duration_ms, status,
            )  # fmt: skip
            buffer.append(record)
            if size == self._wake_at:
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
        """Hand everything buffered to the exporter and wait until it has delivered it (or spooled it).

        True if that finished within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        if not self._drain(deadline):
            return False
        if isinstance(self.exporter, FlushingExporter):
            return self.exporter.flush(max(0.0, deadline - time.monotonic()))
        return True

    def _drain(self, deadline: float) -> bool:
        while self._buffer or not self._idle.is_set():
            self._wake.set()
            if time.monotonic() >= deadline or not self._thread.is_alive():
                return False
            time.sleep(0.002)
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush, stop the background thread and shut the exporter down, within about ``timeout`` seconds.

        What the exporter could not take in time is spilled to it (the HTTP exporter's spool) or counted lost.
        Registered with :mod:`atexit`, so a program that exits normally waits at most ``shutdown_timeout``.
        """
        if self._stopping:
            return
        self._stopping = True
        limit = self.shutdown_timeout if timeout is None else timeout
        started = time.monotonic()
        with internal_errors_handled("Recorder.shutdown"):
            # Keep a margin for spilling: writing the spool is fast, sending to a slow server is not.
            margin = min(0.5, limit * 0.2)
            drained = self._drain(started + limit - margin)
            self._stopped = True
            self._wake.set()
            if not drained:
                self._spill_remaining()
            self._thread.join(max(0.0, limit - margin - (time.monotonic() - started)))
            self.exporter.shutdown(max(0.05, limit - (time.monotonic() - started)))
        if self._atexit:
            atexit.unregister(self.shutdown)
        _live_recorders.discard(self)

    def _spill_remaining(self) -> None:
        with self._take_lock:
            batch = Batch(self._take(len(self._buffer)), self.converter)
        if not batch.records:
            return
        kept = isinstance(self.exporter, SpillingExporter) and self.exporter.spill(batch)
        if not kept:
            self.lost += len(batch)

    # --- per-session statistics (the monitor contract) ---------------------------------------------------------

    def watch_session(self, session_id: str) -> None:
        """Start counting the events of ``session_id`` (counted off the hot path, on the exporter thread)."""
        with self._take_lock:
            self._watched.setdefault(session_id, SessionStats())

    def session_stats(self, session_id: str, *, forget: bool = False) -> SessionStats:
        """The counts of a watched session, including events still in the buffer; ``forget`` stops watching."""
        with self._take_lock:
            stats = dataclasses.replace(self._watched.get(session_id) or SessionStats())
            waiting = self._snapshot()
            if forget:
                self._watched.pop(session_id, None)
        session_of = self.converter.session_of
        for record in waiting:
            if session_of(record) == session_id:
                stats.add(record)
        return stats

    def _snapshot(self) -> list[Record]:
        # Copying a deque runs in C without releasing the GIL, but another thread's append can still interleave
        # with a very large copy on some builds; a retry is cheaper than a lock on the hot path.
        for _ in range(5):
            try:
                return list(self._buffer)
            except RuntimeError:
                continue
        return []

    # --- the exporter thread -----------------------------------------------------------------------------------

    def _take(self, limit: int) -> list[Record]:
        records: list[Record] = []
        popleft = self._buffer.popleft
        for _ in range(limit):
            try:
                records.append(popleft())
            except IndexError:
                break
        return records

    def _take_batch(self) -> Batch:
        with self._take_lock:
            records = self._take(self._batch_size)
            if self._watched:
                session_of = self.converter.session_of
                for record in records:
                    stats = self._watched.get(session_of(record))
                    if stats is not None:
                        stats.add(record)
        return Batch(records, self.converter)

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            self._idle.clear()
            while self._buffer and not self._stopped:
                batch: Batch | None = None
                try:
                    batch = self._take_batch()
                    self.exporter.export(batch)
                    self.exported += len(batch)
                except Exception as error:
                    self.lost += len(batch) if batch is not None else 0
                    with internal_errors_handled("exporter"):
                        report_internal_error(f"{type(self.exporter).__name__}.export", error)
            self._idle.set()

    def _after_fork_in_child(self) -> None:
        # The child has a copy of the buffer (the parent exports those events) and no exporter thread.
        self._buffer.clear()
        self._take_lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        reset = getattr(self.exporter, "after_fork_in_child", None)
        if callable(reset):
            with internal_errors_handled("Recorder.after_fork"):
                reset()
        if not self._stopping:
            self._thread = self._start_thread()


def _after_fork_in_child() -> None:
    _ids.renew()
    for recorder in list(_live_recorders):
        try:
            recorder._after_fork_in_child()
        except Exception as error:  # one broken recorder must not keep the others from restarting
            _logger.warning("escai: cannot restart a recorder after fork: %s", error)


os.register_at_fork(after_in_child=_after_fork_in_child)
