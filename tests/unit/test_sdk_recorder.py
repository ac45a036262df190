"""The recorder: cheap capture into a bounded buffer, batches to the exporter, drops counted, never raising."""

from __future__ import annotations

import os
import threading
import time

import pytest

from escai.model.events import AgentEvent, EventStatus, EventType
from escai.sdk.context import scoped
from escai.sdk.errors import swallow_internal_errors
from escai.sdk.memory_exporter import InMemoryExporter
from escai.sdk.recorder import Recorder, new_event_id
from escai.sdk.wire import Batch


class GatedExporter:
    """Records batch sizes; blocks every export until the gate opens (a stuck server, seen from the recorder)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.sizes: list[int] = []
        self.events: list[dict[str, object]] = []
        self.spilled: list[Batch] = []

    def export(self, batch: Batch) -> None:
        """Wait for the gate, then keep the batch."""
        self.gate.wait(30)
        self.sizes.append(len(batch))
        self.events.extend(batch.wire())

    def shutdown(self, timeout: float) -> None:
        """Nothing to release."""

    def spill(self, batch: Batch) -> bool:
        """Keep what the recorder had no time to export."""
        self.spilled.append(batch)
        return True


def make_recorder(exporter: object, **options: object) -> Recorder:
    """A recorder for tests: not registered with atexit, quick flushes."""
    settings: dict[str, object] = {"flush_interval": 0.02, "register_atexit": False}
    settings.update(options)
    return Recorder(exporter, default_session_id="s-default", default_agent_id="a-default", **settings)  # type: ignore[arg-type]


def test_ids_are_unique_and_short() -> None:
    """Event ids never repeat and fit the id column."""
    ids = {new_event_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(len(event_id) <= 40 for event_id in ids)


def test_full_buffer_drops_and_counts_without_blocking() -> None:
    """With the exporter stuck, emits beyond max_buffer return at once, are dropped and counted."""
    exporter = GatedExporter()
    recorder = make_recorder(exporter, max_buffer=100, batch_size=10)
    try:
        ids = [recorder.emit(EventType.MESSAGE, f"m{index}") for index in range(500)]
        assert len(set(ids)) == 500  # dropped events still get an id, so parent links stay consistent
        # The thread took at most one batch of 10 before blocking on the gate; the buffer holds the rest.
        assert 90 <= recorder.pending <= 100
        assert 390 <= recorder.dropped <= 400
    finally:
        exporter.gate.set()
        recorder.shutdown(5)
    assert recorder.exported + recorder.dropped == 500
    kept = [event["content"] for event in exporter.events]
    assert kept == [f"m{index}" for index in range(len(kept))]  # the oldest are kept, in order


def test_batches_respect_batch_size_and_keep_order() -> None:
    """Every batch holds at most batch_size events and events arrive in capture order."""
    exporter = GatedExporter()
    exporter.gate.set()
    recorder = make_recorder(exporter, batch_size=7)
    for index in range(100):
        recorder.emit(EventType.MESSAGE, str(index))
    assert recorder.flush(5)
    recorder.shutdown(5)
    assert max(exporter.sizes) <= 7 and sum(exporter.sizes) == 100
    assert [event["content"] for event in exporter.events] == [str(index) for index in range(100)]
    assert recorder.exported == 100 and recorder.dropped == 0


def test_wire_events_resolve_scope_and_defaults() -> None:
    """Session, agent, parent and framework come from the emit call, else the scope, else the recorder defaults."""
    exporter = InMemoryExporter()
    recorder = make_recorder(exporter, default_agent_name="Default", default_framework="plain")
    outer = recorder.emit(EventType.THOUGHT, "outside")
    with scoped(session_id="s-1", agent_id="a-1", agent_name="Agent One", parent_id=outer):
        inner = recorder.emit(EventType.TOOL_CALL, "inside", name="search", attributes={"k": 1}, status="ok")
        recorder.emit(EventType.TOOL_RESULT, agent_id="a-2", parent_id=inner, tokens_input=3, cost=0.5)
    recorder.flush(5)
    recorder.shutdown(5)
    first, second, third = exporter.wire_events()
    assert (first["session_id"], first["agent_id"], first["agent_name"], first["framework"]) == (
        "s-default",
        "a-default",
        "Default",
        "plain",
    )
    assert first["parent_id"] is None and first["attributes"] == {} and first["status"] is EventStatus.UNSET
    assert (second["session_id"], second["agent_id"], second["agent_name"], second["parent_id"]) == (
        "s-1",
        "a-1",
        "Agent One",
        outer,
    )
    assert second["attributes"] == {"k": 1} and second["status"] == "ok"
    # An explicit agent does not inherit the scope agent's name.
    assert (third["agent_id"], third["agent_name"], third["parent_id"]) == ("a-2", None, inner)
    assert (third["tokens_input"], third["cost"]) == (3, 0.5)
    timestamp = AgentEvent.model_validate(first).timestamp
    assert abs(timestamp.timestamp() - time.time()) < 60
    assert [event.type for event in exporter.events()] == [
        EventType.THOUGHT,
        EventType.TOOL_CALL,
        EventType.TOOL_RESULT,
    ]


def test_session_stats_count_exported_and_buffered_events() -> None:
    """A watched session's counts include events still waiting in the buffer, and only that session's."""
    exporter = GatedExporter()
    recorder = make_recorder(exporter, batch_size=2)
    recorder.watch_session("watched")
    with scoped(session_id="watched"):
        recorder.emit(EventType.LLM_REQUEST, "q")
        recorder.emit(EventType.LLM_RESPONSE, "a", tokens_input=10, tokens_output=4, cost=0.25)
        recorder.emit(EventType.TOOL_CALL, "t")
        recorder.emit(EventType.ERROR, "boom", status=EventStatus.ERROR)
    recorder.emit(EventType.MESSAGE, "other session", session_id="other")
    stats = recorder.session_stats("watched", forget=True)
    exporter.gate.set()
    recorder.shutdown(5)
    assert (stats.events, stats.errors, stats.llm_calls, stats.tool_calls) == (4, 1, 1, 1)
    assert (stats.tokens_input, stats.tokens_output, stats.cost) == (10, 4, 0.25)


def test_shutdown_spills_what_a_stuck_exporter_did_not_take() -> None:
    """A stuck exporter delays shutdown by at most the timeout; the rest is spilled, nothing silently lost."""
    exporter = GatedExporter()
    recorder = make_recorder(exporter, batch_size=5)
    for index in range(50):
        recorder.emit(EventType.MESSAGE, str(index))
    started = time.monotonic()
    recorder.shutdown(1.0)
    assert time.monotonic() - started < 2.0
    spilled = sum(len(batch) for batch in exporter.spilled)
    assert spilled >= 40 and recorder.lost == 0
    exporter.gate.set()


def test_exporter_failures_are_counted_and_never_reach_the_caller() -> None:
    """An exporter that raises loses its batch (counted), logs, and the recorder keeps working."""

    class Failing:
        calls = 0

        def export(self, batch: Batch) -> None:
            Failing.calls += 1
            raise ConnectionError("down")

        def shutdown(self, timeout: float) -> None:
            pass

    with swallow_internal_errors():
        recorder = make_recorder(Failing(), batch_size=3)
        for index in range(9):
            recorder.emit(EventType.MESSAGE, str(index))
        recorder.flush(5)
        recorder.shutdown(5)
    assert recorder.lost == 9 and Failing.calls >= 3


def test_emit_never_raises() -> None:
    """A broken recorder state is reported and swallowed: emit still returns an id."""
    recorder = make_recorder(InMemoryExporter())
    buffer, recorder._buffer = recorder._buffer, None  # type: ignore[assignment]
    with swallow_internal_errors():
        assert recorder.emit(EventType.MESSAGE, "x")
    with pytest.raises(TypeError):  # under pytest, internal errors are re-raised so that tests see them
        recorder.emit(EventType.MESSAGE, "x")
    recorder._buffer = buffer
    recorder.shutdown(5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_forked_child_records_with_fresh_ids() -> None:
    """After fork the child has its own exporter thread and id prefix; the parent keeps its own events."""
    exporter = InMemoryExporter()
    recorder = make_recorder(exporter)
    parent_id = recorder.emit(EventType.MESSAGE, "parent")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        child_id = recorder.emit(EventType.MESSAGE, "child")
        ok = recorder.flush(5) and [event["content"] for event in exporter.wire_events()][-1:] == ["child"]
        os.write(write, f"{int(ok)} {child_id}".encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    ok, child_id = os.read(read, 200).decode().split()
    os.close(read)
    recorder.flush(5)
    recorder.shutdown(5)
    assert ok == "1"
    assert child_id[:16] != parent_id[:16]
    assert [event["content"] for event in exporter.wire_events()] == ["parent"]
