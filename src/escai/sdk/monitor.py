"""The instrumentor contract of the original design: start monitoring an agent, capture events, stop and summarise.

    monitor = Monitor()
    session_id = monitor.start_monitoring("support-bot", task="refund order 4411")
    monitor.capture_event({"type": "tool_call", "name": "lookup_order", "content": "4411"})
    summary = monitor.stop_monitoring(session_id)   # MonitoringSummary(events=3, errors=0, ...)

``escai.start_monitoring``, ``escai.stop_monitoring`` and ``escai.capture_event`` call the process-wide monitor.
Sessions started here are not bound to a ``with`` block, so events captured without a session id go to the most
recently started session that is still open (after the current :func:`escai.session` scope, if any).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import SessionStatus
from escai.sdk.context import Scope, current_scope, enter_scope, exit_scope
from escai.sdk.errors import internal_errors_handled
from escai.sdk.recorder import Recorder
from escai.sdk.render import jsonable, render_text
from escai.sdk.runtime import get_recorder

_logger = logging.getLogger("escai.sdk")

_EVENT_FIELDS = frozenset(AgentEvent.model_fields) - {"id", "type", "timestamp", "content"}


@dataclass(frozen=True, slots=True)
class MonitoringSummary:
    """What one monitoring session recorded, returned by :meth:`Monitor.stop_monitoring`."""

    session_id: str
    agent_id: str | None
    task: str | None
    started_at: datetime
    ended_at: datetime
    duration_s: float
    status: SessionStatus
    success: bool | None
    score: float | None
    events: int
    """Events recorded in the session, including its start and end events."""
    errors: int
    """Events with status ``error`` or of type ``error``."""
    llm_calls: int
    tool_calls: int
    tokens_input: int
    tokens_output: int
    cost: float
    dropped: int
    """Events dropped process-wide, while the session was open, because the buffer was full."""


def session_start_event(
    recorder: Recorder,
    session_id: str,
    task: Any,
    *,
    agent_id: str | None,
    agent_name: str | None,
    framework: str | None,
    metadata: Mapping[str, Any] | None,
) -> str:
    """Emit a ``session_start``: the task as content and ``escai.task``, metadata as attributes."""
    attributes: dict[str, Any] = {}
    if metadata:
        attributes.update(jsonable(dict(metadata)))
    task_text = None if task is None else render_text(task)
    if task_text is not None:
        attributes[semconv.ESCAI_TASK] = task_text
    # A session starts a new tree: its start event must not hang under whatever event is current.
    token = enter_scope(Scope(session_id=session_id, agent_id=agent_id, agent_name=agent_name, framework=framework))
    try:
        return recorder.emit(
            EventType.SESSION_START,
            task_text,
            attributes=attributes,
            session_id=session_id,
            agent_id=agent_id,
            agent_name=agent_name,
            framework=framework,
            status=EventStatus.OK,
        )
    finally:
        exit_scope(token)


def session_end_event(
    recorder: Recorder,
    session_id: str,
    start_id: str | None,
    *,
    agent_id: str | None,
    duration_s: float,
    success: bool | None,
    score: float | None,
    error: BaseException | None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Emit a ``session_end``: status ok/error, outcome attributes, the error's type and message if any."""
    attributes: dict[str, Any] = dict(extra or {})
    if success is not None:
        attributes[semconv.ESCAI_OUTCOME_SUCCESS] = bool(success)
    if score is not None:
        attributes[semconv.ESCAI_OUTCOME_SCORE] = float(score)
    content = None
    if error is not None:
        attributes[semconv.ESCAI_ERROR_TYPE] = type(error).__name__
        attributes[semconv.ESCAI_ERROR_MESSAGE] = render_text(str(error))
        content = f"{type(error).__name__}: {attributes[semconv.ESCAI_ERROR_MESSAGE]}"
    failed = error is not None or success is False
    return recorder.emit(
        EventType.SESSION_END,
        content,
        attributes=attributes,
        session_id=session_id,
        agent_id=agent_id,
        parent_id=start_id,
        duration_ms=duration_s * 1000.0,
        status=EventStatus.ERROR if failed else EventStatus.OK,
    )


def session_status(success: bool | None, error: BaseException | None) -> SessionStatus:
    """How the store will classify a session that ended this way."""
    if error is not None or success is False:
        return SessionStatus.FAILED
    return SessionStatus.COMPLETED


@dataclass(slots=True)
class _Open:
    session_id: str
    agent_id: str | None
    task: str | None
    start_id: str | None
    started_at: datetime
    started: float
    dropped_at_start: int
    recorder: Recorder | None


class Monitor:
    """Start and stop monitoring sessions by id, capture events into them, and summarise them."""

    def __init__(self, recorder: Recorder | None = None) -> None:
        self._fixed_recorder = recorder
        self._lock = threading.Lock()
        self._open: dict[str, _Open] = {}

    def _recorder(self) -> Recorder | None:
        return self._fixed_recorder or get_recorder()

    def start_monitoring(
        self,
        agent_id: str | None = None,
        task: Any = None,
        *,
        agent_name: str | None = None,
        framework: str | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Open a monitoring session for ``agent_id`` and emit its ``session_start``; return the session id.

        Works (and returns an id) when ESCAI is not configured; nothing is recorded then.
        """
        session_id = session_id or uuid.uuid4().hex
        recorder = self._recorder()
        start_id = None
        dropped = 0
        with internal_errors_handled("Monitor.start_monitoring"):
            if recorder is not None:
                recorder.watch_session(session_id)
                dropped = recorder.dropped
                start_id = session_start_event(
                    recorder,
                    session_id,
                    task,
                    agent_id=agent_id,
                    agent_name=agent_name,
                    framework=framework,
                    metadata=metadata,
                )
        task_text = None if task is None else render_text(task)
        opened = _Open(
            session_id, agent_id, task_text, start_id, datetime.now(UTC), time.monotonic(), dropped, recorder
        )
        with self._lock:
            self._open[session_id] = opened
        return session_id

    def stop_monitoring(
        self,
        session_id: str,
        *,
        success: bool | None = None,
        score: float | None = None,
        error: BaseException | None = None,
    ) -> MonitoringSummary:
        """Emit the session's ``session_end`` and return what it recorded. Never raises.

        ``success``/``score`` set the session's outcome; ``error`` marks it failed with the error's type and
        message. An unknown id is logged and answered with an empty summary.
        """
        with self._lock:
            opened = self._open.pop(session_id, None)
        ended_at = datetime.now(UTC)
        unknown = opened is None
        if opened is None:
            _logger.warning("escai: stop_monitoring(%r): no such open session", session_id)
            opened = _Open(session_id, None, None, None, ended_at, time.monotonic(), 0, None)
        duration = time.monotonic() - opened.started
        recorder = opened.recorder
        counts = None
        dropped = 0
        with internal_errors_handled("Monitor.stop_monitoring"):
            if recorder is not None:
                session_end_event(
                    recorder,
                    session_id,
                    opened.start_id,
                    agent_id=opened.agent_id,
                    duration_s=duration,
                    success=success,
                    score=score,
                    error=error,
                )
                counts = recorder.session_stats(session_id, forget=True)
                dropped = recorder.dropped - opened.dropped_at_start
        return MonitoringSummary(
            session_id=session_id,
            agent_id=opened.agent_id or (recorder.default_agent_id if recorder else None),
            task=opened.task,
            started_at=opened.started_at,
            ended_at=ended_at,
            duration_s=duration,
            status=SessionStatus.UNKNOWN if unknown else session_status(success, error),
            success=None if unknown else success if success is not None else error is None,
            score=score,
            events=counts.events if counts else 0,
            errors=counts.errors if counts else 0,
            llm_calls=counts.llm_calls if counts else 0,
            tool_calls=counts.tool_calls if counts else 0,
            tokens_input=counts.tokens_input if counts else 0,
            tokens_output=counts.tokens_output if counts else 0,
            cost=counts.cost if counts else 0.0,
            dropped=dropped,
        )

    def open_sessions(self) -> list[str]:
        """Ids of the sessions started and not stopped yet, oldest first."""
        with self._lock:
            return list(self._open)

    def capture_event(self, event: AgentEvent | Mapping[str, Any]) -> str | None:
        """Record one event given as an :class:`AgentEvent` or a dict of its fields; return its id. Never raises.

        A dict may leave out ``session_id`` (the current scope's session, else the most recent open monitoring
        session), ``agent_id``, ``id`` and ``timestamp``; unknown keys are kept as attributes.
        """
        with internal_errors_handled("capture_event"):
            recorder = self._recorder()
            if recorder is None:
                return None
            if isinstance(event, AgentEvent):
                return _emit_agent_event(recorder, event)
            return self._emit_mapping(recorder, event)
        return None

    def _emit_mapping(self, recorder: Recorder, event: Mapping[str, Any]) -> str:
        fields = dict(event)
        kind = fields.pop("type", EventType.CUSTOM)
        content = fields.pop("content", None)
        event_id = fields.pop("id", None)
        timestamp_ns = _timestamp_ns(fields.pop("timestamp", None))
        attributes = dict(fields.pop("attributes", None) or {})
        for key in list(fields):
            if key not in _EVENT_FIELDS:
                attributes[key] = jsonable(fields.pop(key))
        if not fields.get("session_id") and current_scope().session_id is None:
            opened = self._latest_open()
            if opened is not None:
                fields["session_id"] = opened.session_id
                fields.setdefault("parent_id", opened.start_id)
                if opened.agent_id:
                    fields.setdefault("agent_id", opened.agent_id)
        return recorder.emit(
            kind,
            None if content is None else render_text(content),
            attributes=attributes or None,
            event_id=event_id,
            timestamp_ns=timestamp_ns,
            **fields,
        )

    def _latest_open(self) -> _Open | None:
        with self._lock:
            return next(reversed(self._open.values()), None)


def _timestamp_ns(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return int(value * 1e9) if value < 1e11 else int(value * 1e6)  # seconds, else milliseconds
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1_000_000) * 1000
    return None


def _emit_agent_event(recorder: Recorder, event: AgentEvent) -> str:
    return recorder.emit(
        event.type,
        event.content,
        name=event.name,
        attributes=dict(event.attributes) or None,
        session_id=event.session_id,
        agent_id=event.agent_id,
        agent_name=event.agent_name,
        framework=event.framework,
        parent_id=event.parent_id,
        trace_id=event.trace_id,
        span_id=event.span_id,
        step_index=event.step_index,
        tokens_input=event.tokens_input,
        tokens_output=event.tokens_output,
        cost=event.cost,
        duration_ms=event.duration_ms,
        status=event.status,
        event_id=event.id,
        timestamp_ns=_timestamp_ns(event.timestamp),
    )


_process_monitor = Monitor()


def process_monitor() -> Monitor:
    """The monitor behind ``escai.start_monitoring`` / ``stop_monitoring`` / ``capture_event``."""
    return _process_monitor
