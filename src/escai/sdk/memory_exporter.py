"""An exporter that keeps events in memory: for tests, and for programs that read their own events."""

from __future__ import annotations

import threading

from escai.model.events import AgentEvent
from escai.sdk.wire import Batch, WireEvent


class InMemoryExporter:
    """Collects exported events in a list; :meth:`events` validates them into :class:`AgentEvent`s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wire: list[WireEvent] = []

    def export(self, batch: Batch) -> None:
        """Keep the batch's wire events."""
        events = batch.wire()
        with self._lock:
            self._wire.extend(events)

    def shutdown(self, timeout: float) -> None:
        """Nothing to release."""

    def wire_events(self) -> list[WireEvent]:
        """The events as they would be sent to the server (wire dicts, see :mod:`escai.sdk.wire`), in order."""
        with self._lock:
            return list(self._wire)

    def events(self) -> list[AgentEvent]:
        """The events, validated exactly as the server's ingest stage validates them."""
        return [AgentEvent.model_validate(item) for item in self.wire_events()]

    def clear(self) -> None:
        """Forget everything collected so far."""
        with self._lock:
            self._wire.clear()
