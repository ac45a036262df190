"""The ingest pipeline: validate -> normalise -> enrich -> filter -> batch -> bulk write.

:meth:`IngestPipeline.ingest` is what every entry point calls (REST, OTLP, importers, the embedded SDK): it runs
the stages on each raw event, sends refused events to the dead-letter table with their reason, and returns once
the accepted events are committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from escai.exceptions import InvalidEventError
from escai.ingest.batcher import Batcher
from escai.ingest.stages import DropEvent, DropTypes, MaskPii, Normalise, Stage, TextMasker, validate
from escai.model.events import AgentEvent, EventType
from escai.ops.metrics import IngestMetrics
from escai.settings import Settings
from escai.store.event_writer import DeadLetter

MAX_DEAD_LETTER_PAYLOAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused event: its position in the request, its id when it had one, and why."""

    index: int
    event_id: str | None
    reason: str


@dataclass(slots=True)
class IngestResult:
    """What happened to one request's events."""

    accepted: int = 0
    """Events committed by this request (new ones)."""
    duplicates: int = 0
    """Events whose id was already stored; not stored again, but acknowledged."""
    filtered: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    stored: list[AgentEvent] = field(default_factory=list)


def dead_letter_payload(raw: Any) -> str:
    """The raw record as text for the dead-letter table, cut to a bounded size; text is kept as sent."""
    if isinstance(raw, str):
        return raw[:MAX_DEAD_LETTER_PAYLOAD]
    if isinstance(raw, AgentEvent):  # OTLP, importers and the embedded SDK hand in events, not JSON
        raw = raw.model_dump(mode="json")
    try:
        text = orjson.dumps(raw, default=repr).decode()
    except TypeError:
        text = repr(raw)
    return text[:MAX_DEAD_LETTER_PAYLOAD]


def _raw_id(raw: Any) -> str | None:
    if isinstance(raw, AgentEvent):
        return raw.id
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, str):
            return value[:128]
    return None


def build_stages(settings: Settings, masker: TextMasker | None) -> list[Stage]:
    """The stages after validation, in order, as configured."""
    stages: list[Stage] = [
        Normalise(timedelta(seconds=settings.max_future_skew_s), settings.min_timestamp_year),
    ]
    if settings.pii_masking and masker is not None:
        stages.append(MaskPii(masker))
    if settings.ingest_drop_types:
        stages.append(DropTypes(EventType(name.strip()) for name in settings.ingest_drop_types.split(",")))
    return stages


class IngestPipeline:
    """Runs the stages and hands the survivors to the batcher."""

    def __init__(self, batcher: Batcher, stages: Sequence[Stage], metrics: IngestMetrics) -> None:
        self._batcher = batcher
        self._stages = tuple(stages)
        self._metrics = metrics

    def prepare(
        self, raw_events: Sequence[Any], source: str
    ) -> tuple[list[AgentEvent], list[DeadLetter], list[Rejection], int]:
        """Run every stage on every raw event: (accepted, dead letters, rejections, filtered count)."""
        accepted: list[AgentEvent] = []
        letters: list[DeadLetter] = []
        rejections: list[Rejection] = []
        filtered = 0
        now = datetime.now(UTC)
        for index, raw in enumerate(raw_events):
            try:
                event = raw if isinstance(raw, AgentEvent) else validate(raw)
                for stage in self._stages:
                    event = stage(event)
            except DropEvent:
                filtered += 1
                continue
            except InvalidEventError as error:
                event_id = _raw_id(raw)
                rejections.append(Rejection(index, event_id, error.reason))
                letters.append(DeadLetter(source, error.reason, dead_letter_payload(raw), now, event_id))
                continue
            accepted.append(event)
        return accepted, letters, rejections, filtered

    async def ingest(self, raw_events: Sequence[Any], source: str = "api") -> IngestResult:
        """Validate, transform and store events; return after the accepted ones are committed."""
        self._metrics.events_received.labels(source).inc(len(raw_events))
        accepted, letters, rejections, filtered = self.prepare(raw_events, source)
        result = IngestResult(filtered=filtered, rejected=rejections)
        if filtered:
            self._metrics.events_filtered.inc(filtered)
        if rejections:
            self._metrics.events_rejected.labels(source).inc(len(rejections))
        if not accepted and not letters:
            return result
        written = await self._batcher.submit(accepted, letters, source)
        result.stored = written.stored
        result.accepted = len(written.stored)
        result.duplicates = len(written.duplicate_ids)
        stored_or_duplicate = result.accepted + result.duplicates
        if stored_or_duplicate < len(accepted):
            # The database refused the whole submission and it was dead-lettered (see Batcher).
            positions = {_raw_id(raw): index for index, raw in enumerate(raw_events)}
            for event in accepted:
                reason = "storage refused the batch; the events are kept as dead letters"
                result.rejected.append(Rejection(positions.get(event.id, -1), event.id, reason))
        return result

    async def dead_letter(self, payload: Any, reason: str, source: str = "api") -> None:
        """Keep a record that could not even be parsed into events (for example malformed JSON)."""
        self._metrics.events_rejected.labels(source).inc()
        letter = DeadLetter(source, reason, dead_letter_payload(payload), datetime.now(UTC))
        await self._batcher.submit([], [letter], source)
