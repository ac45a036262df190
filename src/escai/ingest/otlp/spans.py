"""The span as the OTLP intake sees it, whatever it arrived as (OTLP protobuf, OTLP/JSON or an SDK span dump).

Ids are lower-case hex, as OTLP/JSON and the W3C trace context spell them; times are Unix nanoseconds; attribute
values are plain JSON values (bytes arrive as base64 text).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SpanStatus = Literal["ok", "error", "unset"]

TRACE_ID_HEX_LENGTH = 32
SPAN_ID_HEX_LENGTH = 16
_HEX_DIGITS = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """A timed annotation on a span (an exception, a log line, a deprecated GenAI content event)."""

    name: str
    time_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Span:
    """One finished span with its resource and instrumentation scope."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int
    kind: str = "internal"
    status: SpanStatus = "unset"
    status_message: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[SpanEvent, ...] = ()
    links: tuple[Mapping[str, Any], ...] = ()
    resource: Mapping[str, Any] = field(default_factory=dict)
    scope_name: str | None = None
    scope_version: str | None = None


@dataclass(frozen=True, slots=True)
class SpanRejection:
    """A span that could not be turned into events, and why."""

    trace_id: str | None
    span_id: str | None
    reason: str


def is_valid_hex_id(value: str, length: int, *, check_digits: bool = True) -> bool:
    """Whether ``value`` is a lower-case hex id of ``length`` digits that is not all zeros (W3C: invalid).

    ``check_digits=False`` skips the digit check for ids that ``bytes.hex()`` produced (always hex).
    """
    if len(value) != length or value == "0" * length:
        return False
    return not check_digits or set(value) <= _HEX_DIGITS


def id_problem(trace_id: str, span_id: str, parent_span_id: str | None, *, check_digits: bool = True) -> str | None:
    """Why a span's ids are unusable, or None when they are fine."""
    if not is_valid_hex_id(trace_id, TRACE_ID_HEX_LENGTH, check_digits=check_digits):
        return f"invalid trace id {trace_id[:64]!r}: expected 16 bytes, not all zero"
    if not is_valid_hex_id(span_id, SPAN_ID_HEX_LENGTH, check_digits=check_digits):
        return f"invalid span id {span_id[:64]!r}: expected 8 bytes, not all zero"
    if parent_span_id is not None and not is_valid_hex_id(
        parent_span_id, SPAN_ID_HEX_LENGTH, check_digits=check_digits
    ):
        return f"invalid parent span id {parent_span_id[:64]!r}: expected 8 bytes"
    return None
