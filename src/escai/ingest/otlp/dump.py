"""Span dumps (JSON written by OpenTelemetry SDK users) to ESCAI events, for ``escai import --format otel-json``.

Two spellings of the same ``ReadableSpan`` are read:

- the any-agent dump (``{"spans": [...]}``): ``context``/``parent`` with integer ids, ``start_time``/``end_time``
  in Unix nanoseconds, ``kind`` like ``"internal"``, ``status.status_code`` like ``"ok"``;
- the SDK's own ``ReadableSpan.to_json()`` (what ``ConsoleSpanExporter`` prints): ``0x``-prefixed hex ids,
  ``parent_id``, ISO 8601 times, ``kind`` like ``"SpanKind.INTERNAL"``, ``status_code`` like ``"UNSET"``.

A document may be ``{"spans": [...]}``, a list of spans, or one span. Parse the file with the standard ``json``
module: any-agent writes 128-bit trace ids as JSON integers, which orjson reads as (rounded) floats. The spans then
go through the same mapping as OTLP (:mod:`escai.ingest.otlp.mapping`), with ``complete_traces=True``: a dump holds
whole traces, so a span whose parent is not in it is attached to its trace's root.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from escai.exceptions import IngestError
from escai.ingest.otlp.decode import DecodedSpans
from escai.ingest.otlp.mapping import MappedSpans, events_from_spans
from escai.ingest.otlp.spans import (
    SPAN_ID_HEX_LENGTH,
    TRACE_ID_HEX_LENGTH,
    Span,
    SpanEvent,
    SpanRejection,
    SpanStatus,
    id_problem,
)
from escai.model.events import AgentEvent

_STATUS_NAMES: dict[str, SpanStatus] = {"ok": "ok", "error": "error", "unset": "unset"}


class SpanDumpError(IngestError):
    """The document is not a span dump; ``reason`` says what was expected."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def events_from_span_dump(document: Any, *, framework: str | None = None) -> list[AgentEvent]:
    """The ESCAI events of a parsed span dump; spans that cannot be read are left out (see :func:`map_span_dump`
    to learn which and why). Raises :class:`SpanDumpError` when the document holds no spans at all."""
    return map_span_dump(document, framework=framework).events


def map_span_dump(document: Any, *, framework: str | None = None) -> MappedSpans:
    """The events of a parsed span dump, and every span that could not be read or mapped with the reason."""
    decoded = spans_from_dump(document)
    mapped = events_from_spans(decoded.spans, complete_traces=True, framework=framework)
    mapped.rejected[:0] = decoded.rejected
    return mapped


def spans_from_dump(document: Any) -> DecodedSpans:
    """The spans of a parsed span dump, in either spelling."""
    if isinstance(document, Mapping) and isinstance(document.get("spans"), list):
        items: list[Any] = document["spans"]
    elif isinstance(document, list):
        items = document
    elif isinstance(document, Mapping) and "context" in document:
        items = [document]
    else:
        raise SpanDumpError('expected {"spans": [...]}, a list of spans, or one span with a "context"')
    decoded = DecodedSpans()
    for position, item in enumerate(items):
        try:
            span = _span(item)
        except (TypeError, ValueError, KeyError) as error:
            decoded.rejected.append(SpanRejection(None, None, f"span #{position} is not readable: {error!r}"))
            continue
        problem = id_problem(span.trace_id, span.span_id, span.parent_span_id)
        if problem is not None:
            decoded.rejected.append(SpanRejection(span.trace_id, span.span_id, problem))
        else:
            decoded.spans.append(span)
    return decoded


def _span(item: Any) -> Span:
    if not isinstance(item, Mapping):
        raise TypeError(f"a span must be an object, not {type(item).__name__}")
    context = item["context"]
    parent = item.get("parent")
    parent_id = parent.get("span_id") if isinstance(parent, Mapping) else item.get("parent_id")
    status = item.get("status") or {}
    resource = item.get("resource") or {}
    scope = item.get("instrumentation_scope") or item.get("scope") or {}
    start_ns = _nanos(item["start_time"])
    end_value = item.get("end_time")
    return Span(
        trace_id=_hex_id(context["trace_id"], TRACE_ID_HEX_LENGTH),
        span_id=_hex_id(context["span_id"], SPAN_ID_HEX_LENGTH),
        parent_span_id=_hex_id(parent_id, SPAN_ID_HEX_LENGTH) if parent_id not in (None, "", 0) else None,
        name=str(item.get("name") or ""),
        start_ns=start_ns,
        end_ns=_nanos(end_value) if end_value is not None else start_ns,
        kind=str(item.get("kind") or "internal").lower().removeprefix("spankind."),
        status=_STATUS_NAMES.get(
            str(status.get("status_code") or "unset").lower().removeprefix("statuscode."), "unset"
        ),
        status_message=status.get("description") or None,
        attributes=dict(item.get("attributes") or {}),
        events=tuple(
            SpanEvent(str(event.get("name") or ""), _nanos(event.get("timestamp") or 0), event.get("attributes") or {})
            for event in item.get("events") or ()
            if isinstance(event, Mapping)
        ),
        links=tuple(_link(link) for link in item.get("links") or () if isinstance(link, Mapping)),
        resource=dict(resource.get("attributes") or {}) if isinstance(resource, Mapping) else {},
        scope_name=(scope.get("name") or None) if isinstance(scope, Mapping) else None,
        scope_version=(scope.get("version") or None) if isinstance(scope, Mapping) else None,
    )


def _hex_id(value: Any, length: int) -> str:
    """An id as lower-case hex of ``length`` digits: from an integer, or from hex text with or without ``0x``."""
    if isinstance(value, bool):
        raise TypeError("an id cannot be a boolean")
    if isinstance(value, int):
        return f"{value:0{length}x}"
    if isinstance(value, str):
        return value.lower().removeprefix("0x").zfill(length)
    if isinstance(value, float):
        # orjson (and JavaScript) read integers over 64 bits as floats, which loses the 128-bit trace id.
        raise TypeError("an id is a float: parse span dumps with the standard json module, which keeps big integers")
    raise TypeError(f"an id must be an integer or hex text, not {type(value).__name__}")


def _nanos(value: Any) -> int:
    """A time as Unix nanoseconds: from an integer (nanoseconds) or ISO 8601 text (naive means UTC)."""
    if isinstance(value, bool):
        raise TypeError("a time cannot be a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    raise TypeError(f"a time must be Unix nanoseconds or ISO 8601 text, not {type(value).__name__}")


def _link(link: Mapping[str, Any]) -> dict[str, Any]:
    context = link.get("context") or {}
    found: dict[str, Any] = {}
    if isinstance(context, Mapping):
        if context.get("trace_id") is not None:
            found["trace_id"] = _hex_id(context["trace_id"], TRACE_ID_HEX_LENGTH)
        if context.get("span_id") is not None:
            found["span_id"] = _hex_id(context["span_id"], SPAN_ID_HEX_LENGTH)
    if link.get("attributes"):
        found["attributes"] = dict(link["attributes"])
    return found
