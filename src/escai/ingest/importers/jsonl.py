"""ESCAI's own JSON Lines: one :class:`~escai.model.events.AgentEvent` as JSON per line (a JSON array works too).

Events are stored as they are, ids included, so importing an export again stores nothing twice. A file may
interleave sessions: consecutive events of one session form a run (at most :data:`MAX_RUN_EVENTS` events, so
memory stays bounded); a session split over several runs is merged by the store. A line that is not a valid
event is skipped with the validation message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from escai.ingest.importers.base import ImportedRun, ImportItem, SkippedRecord, Source, iter_records
from escai.ingest.stages import describe_validation_error
from escai.model import semconv
from escai.model.events import AgentEvent, EventType

FORMAT = "jsonl"
MAX_RUN_EVENTS = 1000


def _run(events: list[AgentEvent], ref: str) -> ImportedRun:
    annotations: dict[str, Any] = {}
    for event in events:
        found = event.attributes.get(semconv.ESCAI_ANNOTATIONS)
        if event.type is EventType.SESSION_START and isinstance(found, dict):
            annotations = found
    return ImportedRun(events[0].session_id, events, annotations, FORMAT, ref)


class JsonlImporter:
    """ESCAI events, one JSON object per line."""

    name = FORMAT

    def read(self, source: Source) -> Iterator[ImportItem]:
        """Runs of consecutive events of one session, streamed line by line."""
        block: list[AgentEvent] = []
        block_ref = ""
        for ref, record in iter_records(source):
            if isinstance(record, SkippedRecord):
                yield record
                continue
            try:
                event = AgentEvent.model_validate(record)
            except ValidationError as error:
                yield SkippedRecord(ref, describe_validation_error(error))
                continue
            if block and (event.session_id != block[0].session_id or len(block) >= MAX_RUN_EVENTS):
                yield _run(block, block_ref)
                block = []
            if not block:
                block_ref = ref
            block.append(event)
        if block:
            yield _run(block, block_ref)
