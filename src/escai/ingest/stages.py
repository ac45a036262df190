"""The ingest stages. Each takes one event and returns it (possibly changed), or raises.

A stage raises :class:`~escai.exceptions.InvalidEventError` to reject an event (it goes to the dead-letter table
with the reason) or :class:`DropEvent` to filter it out on purpose (counted, not stored). Stages are plain
callables so that tests and plugins can add their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from pydantic import TypeAdapter, ValidationError

from escai.exceptions import InvalidEventError
from escai.model import semconv
from escai.model.events import AgentEvent, EventType

Stage = Callable[[AgentEvent], AgentEvent]

_EVENT_ADAPTER: TypeAdapter[AgentEvent] = TypeAdapter(AgentEvent)


class DropEvent(Exception):
    """Raised by a stage to filter an event out without treating it as an error."""


def describe_validation_error(error: ValidationError) -> str:
    """A one-line reason naming each wrong field, e.g. ``type: Input should be 'message', ...``."""
    parts = []
    for item in error.errors(include_url=False, include_context=False):
        location = ".".join(str(part) for part in item["loc"]) or "event"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def validate(raw: Any) -> AgentEvent:
    """Turn one raw JSON value into an :class:`AgentEvent`, or reject it with the reasons."""
    if not isinstance(raw, dict):
        raise InvalidEventError(f"an event must be a JSON object, not {type(raw).__name__}")
    try:
        return _EVENT_ADAPTER.validate_python(raw)
    except ValidationError as error:
        raise InvalidEventError(describe_validation_error(error)) from None


def _contains_nul(value: Any) -> bool:
    return "\\u0000" in orjson.dumps(value).decode()


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_strip_nul(key): _strip_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_strip_nul(item) for item in value]
    return value


class Normalise:
    """Refuse impossible timestamps, remove NUL characters, and lower-case the framework name."""

    def __init__(self, max_future_skew: timedelta, min_year: int) -> None:
        self._max_future_skew = max_future_skew
        self._earliest = datetime(min_year, 1, 1, tzinfo=UTC)
        self._latest = datetime.now(UTC) + max_future_skew
        self._latest_refreshed = time.monotonic()

    def _latest_allowed(self) -> datetime:
        # Reading the clock for every event costs more than the check itself; a bound one second stale is fine
        # for a skew measured in hours.
        now = time.monotonic()
        if now - self._latest_refreshed > 1.0:
            self._latest = datetime.now(UTC) + self._max_future_skew
            self._latest_refreshed = now
        return self._latest

    def __call__(self, event: AgentEvent) -> AgentEvent:
        if event.timestamp > self._latest_allowed():
            raise InvalidEventError(
                f"timestamp: {event.timestamp.isoformat()} is more than {self._max_future_skew} in the future"
            )
        if event.timestamp < self._earliest:
            raise InvalidEventError(f"timestamp: {event.timestamp.isoformat()} is before {self._earliest.year}")
        changes: dict[str, Any] = {}
        # PostgreSQL cannot store NUL in text or JSONB; drop it everywhere so both engines store the same thing.
        if event.content is not None and "\x00" in event.content:
            changes["content"] = event.content.replace("\x00", "")
        for name in ("name", "agent_name"):
            value = getattr(event, name)
            if value is not None and "\x00" in value:
                changes[name] = value.replace("\x00", "")
        if event.attributes and _contains_nul(event.attributes):
            changes["attributes"] = _strip_nul(event.attributes)
        if event.framework is not None and event.framework != event.framework.lower():
            changes["framework"] = event.framework.lower()
        return event.model_copy(update=changes) if changes else event


class TextMasker(Protocol):
    """What the enrich stage needs from a PII masker (see :class:`escai.ingest.pii.PiiMasker`)."""

    def mask_text(self, text: str) -> tuple[str, dict[str, int]]:
        """Return ``text`` with PII replaced, and how many items of each kind were replaced."""
        ...

    def mask_json(self, value: Any) -> tuple[Any, dict[str, int]]:
        """Return a masked copy of a JSON-like value, and how many items of each kind were replaced."""
        ...


class MaskPii:
    """Replace PII in content and attributes before anything is stored; record what was masked."""

    def __init__(self, masker: TextMasker) -> None:
        self._masker = masker

    def __call__(self, event: AgentEvent) -> AgentEvent:
        counts: dict[str, int] = {}
        changes: dict[str, Any] = {}
        if event.content:
            masked, found = self._masker.mask_text(event.content)
            if found:
                changes["content"] = masked
                _add_counts(counts, found)
        if event.attributes:
            masked_attributes, found = self._masker.mask_json(event.attributes)
            if found:
                changes["attributes"] = masked_attributes
                _add_counts(counts, found)
        if not counts:
            return event
        changes["attributes"] = {
            **changes.get("attributes", event.attributes),
            semconv.ESCAI_PII_MASKED: counts,
        }
        return event.model_copy(update=changes)


def _add_counts(total: dict[str, int], found: dict[str, int]) -> None:
    for kind, count in found.items():
        total[kind] = total.get(kind, 0) + count


class DropTypes:
    """Filter out events of the given kinds (for example ``llm_request`` when only responses matter)."""

    def __init__(self, types: Iterable[EventType]) -> None:
        self._types = frozenset(types)

    def __call__(self, event: AgentEvent) -> AgentEvent:
        if event.type in self._types:
            raise DropEvent(event.type.value)
        return event
