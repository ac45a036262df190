"""Helpers for testing code instrumented with ESCAI: capture the events it emits, in memory.

from escai.testing import capture_events

with capture_events() as captured:
    run_my_agent()
assert [event.type for event in captured.events()] == [...]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from escai.model.events import AgentEvent
from escai.sdk.memory_exporter import InMemoryExporter
from escai.sdk.recorder import Recorder
from escai.sdk.runtime import set_recorder


class CapturedEvents:
    """What a :func:`capture_events` block recorded."""

    def __init__(self, recorder: Recorder, exporter: InMemoryExporter) -> None:
        self.recorder = recorder
        self.exporter = exporter

    def events(self) -> list[AgentEvent]:
        """Every event so far, validated as the server would, in capture order."""
        self.recorder.flush()
        return self.exporter.events()

    def tree(self, *, content: bool = True) -> list[dict[str, Any]]:
        """The events as a compact, id-free structure for snapshot comparison.

        Ids are replaced by positions: ``parent`` is the index of the parent event in the list (or None).
        Timestamps and durations are left out because they differ on every run.
        """
        events = self.events()
        position = {event.id: index for index, event in enumerate(events)}
        tree = []
        for event in events:
            node: dict[str, Any] = {
                "type": event.type.value,
                "name": event.name,
                "agent": event.agent_id,
                "parent": position.get(event.parent_id) if event.parent_id else None,
                "status": event.status.value,
            }
            if content:
                node["content"] = event.content
            if event.tokens_input is not None or event.tokens_output is not None:
                node["tokens"] = [event.tokens_input, event.tokens_output]
            tree.append(node)
        return tree


@contextmanager
def capture_events(session_id: str = "test-session", agent_id: str = "test-agent") -> Iterator[CapturedEvents]:
    """Install an in-memory recorder for the block; restore the previous recorder afterwards."""
    exporter = InMemoryExporter()
    recorder = Recorder(exporter, default_session_id=session_id, default_agent_id=agent_id, flush_interval=0.05)
    previous = set_recorder(recorder)
    try:
        yield CapturedEvents(recorder, exporter)
    finally:
        recorder.shutdown(timeout=5)
        set_recorder(previous)
