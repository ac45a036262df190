"""escai.session, the monitor contract (start/stop_monitoring, capture_event), init and the unconfigured SDK."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

import escai
from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import SessionStatus
from escai.sdk import runtime
from escai.sdk.errors import swallow_internal_errors
from escai.sdk.memory_exporter import InMemoryExporter
from escai.sdk.monitor import Monitor
from escai.sdk.wire import Batch
from escai.testing import capture_events


class Boom(Exception):
    """The error raised inside sessions."""


def test_session_records_task_outcome_and_children() -> None:
    """session_start carries the task, events inside hang under it, session_end carries the outcome."""
    with (
        capture_events() as captured,
        escai.session("summarise the report", agent_id="writer", metadata={"team": "docs"}) as run,
    ):
        escai.capture_event({"type": "thought", "content": "start with the abstract"})
        run.set_outcome(success=True, score=0.8)
    start, thought, end = captured.events()
    assert start.type is EventType.SESSION_START and start.session_id == run.id
    assert start.attributes == {"team": "docs", semconv.ESCAI_TASK: "summarise the report"}
    assert thought.session_id == run.id and thought.parent_id == start.id and thought.agent_id == "writer"
    assert end.type is EventType.SESSION_END and end.parent_id == start.id and end.status is EventStatus.OK
    assert end.attributes == {semconv.ESCAI_OUTCOME_SUCCESS: True, semconv.ESCAI_OUTCOME_SCORE: 0.8}


def test_exception_in_a_session_marks_it_failed_and_propagates() -> None:
    """The very exception leaves the block; session_end says error, with the type and message."""
    error = Boom("the tool is down")
    with capture_events() as captured, pytest.raises(Boom) as raised, escai.session("task"):
        raise error
    assert raised.value is error
    end = captured.events()[-1]
    assert end.status is EventStatus.ERROR
    assert end.attributes[semconv.ESCAI_ERROR_TYPE] == "Boom"
    assert end.attributes[semconv.ESCAI_ERROR_MESSAGE] == "the tool is down"
    assert end.content == "Boom: the tool is down"


async def test_async_session_and_nested_sessions() -> None:
    """async with works; a session inside another is its own session, not hung under the outer one."""
    with capture_events() as captured:
        async with escai.session("outer") as outer:
            await asyncio.sleep(0)
            with escai.session("inner") as inner:
                escai.capture_event({"type": "message", "content": "in inner"})
            escai.capture_event({"type": "message", "content": "in outer"})
    events = {event.content: event for event in captured.events() if event.type is EventType.MESSAGE}
    assert events["in inner"].session_id == inner.id
    assert events["in outer"].session_id == outer.id and events["in outer"].parent_id == outer.start_event_id
    inner_start = next(event for event in captured.events() if event.id == inner.start_event_id)
    assert inner_start.parent_id is None


def test_unconfigured_sdk_runs_user_code_untouched() -> None:
    """With no recorder, session/observe/monitor calls work, return sensible values and record nothing."""
    assert runtime.get_recorder() is None
    with escai.session("task") as run:
        run.set_outcome(success=False)
    session_id = escai.start_monitoring("agent", task="t")
    assert escai.capture_event({"type": "message"}) is None
    summary = escai.stop_monitoring(session_id)
    assert summary.events == 0 and summary.status is SessionStatus.COMPLETED
    assert escai.flush() is True
    escai.shutdown()


def test_monitor_contract_summarises_the_session() -> None:
    """start_monitoring -> session id; capture_event; stop_monitoring -> counts, tokens, cost, errors, outcome."""
    with capture_events() as captured:
        monitor = Monitor()
        session_id = monitor.start_monitoring("support-bot", task="refund order 4411")
        monitor.capture_event({"type": "llm_request", "content": "refund?", "name": "gpt"})
        monitor.capture_event(
            {"type": "llm_response", "content": "yes", "tokens_input": 30, "tokens_output": 5, "cost": 0.002}
        )
        monitor.capture_event({"type": "tool_call", "name": "refund", "content": "4411", "order": 4411})
        monitor.capture_event({"type": "error", "content": "payment gateway timeout", "status": "error"})
        summary = monitor.stop_monitoring(session_id, success=False)
    events = captured.events()
    assert {event.session_id for event in events} == {session_id}
    assert all(event.parent_id == events[0].id for event in events[1:])
    assert events[3].attributes == {"order": 4411}  # unknown keys become attributes
    assert (summary.events, summary.errors, summary.llm_calls, summary.tool_calls) == (6, 2, 1, 1)
    assert (summary.tokens_input, summary.tokens_output, summary.cost) == (30, 5, 0.002)
    assert summary.status is SessionStatus.FAILED and summary.success is False
    assert summary.agent_id == "support-bot" and summary.task == "refund order 4411" and summary.dropped == 0
    assert events[-1].status is EventStatus.ERROR and events[-1].attributes[semconv.ESCAI_OUTCOME_SUCCESS] is False


def test_capture_event_accepts_agent_events_with_their_own_ids_and_times() -> None:
    """An AgentEvent keeps its id, session, timestamp and fields."""
    moment = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    original = AgentEvent(
        id="fixed-id", session_id="s-x", agent_id="a-x", type=EventType.DECISION, content="go", timestamp=moment
    )
    with capture_events() as captured:
        assert escai.capture_event(original) == "fixed-id"
    (stored,) = captured.events()
    assert stored == original


def test_stop_monitoring_an_unknown_session_returns_an_empty_summary() -> None:
    """An id that was never started is logged and answered, not raised."""
    with capture_events():
        summary = escai.stop_monitoring("never-started")
    assert summary.status is SessionStatus.UNKNOWN and summary.events == 0


def test_init_twice_replaces_the_recorder_cleanly() -> None:
    """The second init shuts the first recorder down after delivering its events; new events go to the second."""
    first, second = InMemoryExporter(), InMemoryExporter()
    try:
        recorder_one = escai.init(exporter=first, agent_id="one")
        escai.capture_event({"type": "message", "content": "to first"})
        recorder_two = escai.init(exporter=second, agent_id="two")
        escai.capture_event({"type": "message", "content": "to second"})
        assert escai.flush()
    finally:
        escai.shutdown()
    assert recorder_one is not None and recorder_two is not None and recorder_one is not recorder_two
    assert [event.content for event in first.events()] == ["to first"]
    assert [(event.content, event.agent_id) for event in second.events()] == [("to second", "two")]
    assert runtime.get_recorder() is None


def test_internal_failures_never_reach_user_code() -> None:
    """A failing exporter and a broken capture_event argument are logged and swallowed; user code runs on."""

    class Exploding:
        def export(self, batch: Batch) -> None:
            raise RuntimeError("exporter bug")

        def shutdown(self, timeout: float) -> None:
            raise RuntimeError("shutdown bug")

    with swallow_internal_errors():
        try:
            recorder = escai.init(exporter=Exploding())
            with escai.session("task") as run:
                escai.capture_event({"type": "message", "timestamp": "not a time"})
                escai.capture_event(42)  # type: ignore[arg-type]
                run.set_outcome(True)
            escai.flush(2)
        finally:
            escai.shutdown(2)
    assert recorder is not None and recorder.lost >= 2


def test_init_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """ESCAI_AGENT_ID, ESCAI_SESSION_ID and ESCAI_FRAMEWORK become the recorder's defaults."""
    monkeypatch.setenv("ESCAI_AGENT_ID", "env-agent")
    monkeypatch.setenv("ESCAI_SESSION_ID", "env-session")
    monkeypatch.setenv("ESCAI_FRAMEWORK", "plain")
    exporter = InMemoryExporter()
    try:
        escai.init(exporter=exporter)
        escai.capture_event({"type": "message", "content": "hi"})
        escai.flush()
    finally:
        escai.shutdown()
    (event,) = exporter.events()
    assert (event.agent_id, event.session_id, event.framework) == ("env-agent", "env-session", "plain")
