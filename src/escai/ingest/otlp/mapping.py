"""Spans to ESCAI events, keeping the span tree.

Each span becomes a start event and an end event, so that an LLM call, a tool call or an agent run reads the same
as the events ESCAI's own SDK records:

=========  =====================  ======================
category   start event            end event
=========  =====================  ======================
llm        ``llm_request``        ``llm_response``
tool       ``tool_call``          ``tool_result``
agent      ``agent_start``        ``agent_end``
chain      ``agent_start``        ``agent_end``
other      ``custom`` (one event, no end event)
=========  =====================  ======================

The start event carries the input (content), the request-side attributes and the span's metadata; the end event
carries the output, tokens, cost, model, finish reasons, the duration and the span's status. Every ``exception``
span event becomes an ``error`` event. Ids are derived from the trace and span ids (``{trace}-{span}-start``,
``-end``, ``-error-{i}``), so a span sent twice is recognised as a duplicate and stored once, and a child names
its parent's start event as ``parent_id`` even when the parent arrives in a later export (OpenTelemetry SDKs export
a span when it ends, so children usually come first).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from escai.ingest.otlp.dialects import SpanCategory, SpanSemantics, framework_of, read_span
from escai.ingest.otlp.spans import Span, SpanRejection
from escai.ingest.stages import describe_validation_error
from escai.model import semconv
from escai.model import semconv_otlp as otlp
from escai.model.events import MAX_ID_LENGTH, MAX_NAME_LENGTH, AgentEvent, EventStatus, EventType

SpanKey = tuple[str, str]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STATUSES = {"ok": EventStatus.OK, "error": EventStatus.ERROR, "unset": EventStatus.UNSET}
_PAIRS = {
    SpanCategory.LLM: (EventType.LLM_REQUEST, EventType.LLM_RESPONSE),
    SpanCategory.TOOL: (EventType.TOOL_CALL, EventType.TOOL_RESULT),
    SpanCategory.AGENT: (EventType.AGENT_START, EventType.AGENT_END),
    SpanCategory.CHAIN: (EventType.AGENT_START, EventType.AGENT_END),
}
# Attributes that describe a span's outcome travel on its end event; the rest on its start event.
_OUTPUT_PREFIXES = (
    "gen_ai.output",
    "gen_ai.completion",
    "gen_ai.response.",
    "gen_ai.usage.",
    otlp.GEN_AI_TOOL_CALL_RESULT,
    "output.",
    otlp.LLM_OUTPUT_MESSAGES_PREFIX,
    "llm.token_count.",
    "llm.cost.",
    "llm.usage.",
    "llm.response.",
    otlp.LLM_FINISH_REASON,
    otlp.TRACELOOP_ENTITY_OUTPUT,
)


@dataclass(slots=True)
class MappedSpans:
    """The events made from a batch of spans, and the spans that could not be mapped."""

    events: list[AgentEvent] = field(default_factory=list)
    rejected: list[SpanRejection] = field(default_factory=list)


def start_event_id(trace_id: str, span_id: str) -> str:
    """The id of a span's first event; children name it as their ``parent_id``."""
    return f"{trace_id}-{span_id}-start"


def end_event_id(trace_id: str, span_id: str) -> str:
    """The id of a span's closing event."""
    return f"{trace_id}-{span_id}-end"


def error_event_id(trace_id: str, span_id: str, index: int) -> str:
    """The id of the error event made from the span's ``index``-th span event."""
    return f"{trace_id}-{span_id}-error-{index}"


def span_key_of_event_id(event_id: str | None) -> SpanKey | None:
    """The (trace id, span id) an event id made by this module belongs to, or None for any other id."""
    if not event_id:
        return None
    parts = event_id.split("-", 2)
    if len(parts) == 3 and len(parts[0]) == 32 and len(parts[1]) == 16:
        return parts[0], parts[1]
    return None


def nanos_to_datetime(nanos: int) -> datetime:
    """Unix nanoseconds as an aware UTC datetime (microsecond precision, exact: no float rounding)."""
    return _EPOCH + timedelta(microseconds=nanos // 1000)


@dataclass(frozen=True, slots=True)
class _Context:
    agent_name: str | None
    session_id: str | None
    depth: int


_NO_CONTEXT = _Context(None, None, -1)


class _Tree:
    """The spans of one batch indexed by key, with each span's inherited agent and session."""

    def __init__(self, spans: Iterable[Span]) -> None:
        self.spans: dict[SpanKey, Span] = {}
        for span in spans:
            # A span repeated inside one request is the same span: keep the first copy.
            self.spans.setdefault((span.trace_id, span.span_id), span)
        self.readings: dict[SpanKey, SpanSemantics] = {
            key: read_span(span.name, span.attributes, span.events) for key, span in self.spans.items()
        }
        parentless: dict[str, list[SpanKey]] = defaultdict(list)
        for key, span in self.spans.items():
            if span.parent_span_id is None:
                parentless[span.trace_id].append(key)
        self.roots = {trace_id: keys[0] for trace_id, keys in parentless.items() if len(keys) == 1}
        self._contexts: dict[SpanKey, _Context] = {}

    def parent_key(self, span: Span) -> SpanKey | None:
        """The span's parent within the batch; the trace's root when the parent itself is missing.

        Every span of a trace descends from its root, so attaching an orphan to the root keeps a true ancestor
        relation while the spans in between are unknown (not exported, or not in this batch).
        """
        if span.parent_span_id is None:
            return None
        key = (span.trace_id, span.parent_span_id)
        if key in self.spans:
            return key
        root = self.roots.get(span.trace_id)
        return root if root is not None and root != (span.trace_id, span.span_id) else None

    def context(self, key: SpanKey) -> _Context:
        """The span's nearest named agent and session, self included, and its depth below the top span."""
        chain: list[SpanKey] = []
        seen: set[SpanKey] = set()
        current: SpanKey | None = key
        # Walk up iteratively (deep trees, and a cycle of spans naming each other as parents, must not recurse).
        while current is not None and current not in self._contexts and current not in seen:
            seen.add(current)
            chain.append(current)
            current = self.parent_key(self.spans[current])
        base = self._contexts.get(current, _NO_CONTEXT) if current is not None else _NO_CONTEXT
        for item in reversed(chain):
            reading = self.readings[item]
            base = _Context(
                reading.agent_name or base.agent_name, reading.session_id or base.session_id, base.depth + 1
            )
            self._contexts[item] = base
        return self._contexts[key]


def events_from_spans(
    spans: Iterable[Span], *, complete_traces: bool = False, framework: str | None = None
) -> MappedSpans:
    """Map a batch of spans to ESCAI events.

    ``complete_traces`` says the batch holds whole traces (a span dump), so a parent that is missing will never
    arrive: the span is then attached to its trace's root (the original parent is kept in
    ``escai.otel.parent_span_id``). Over OTLP the parent may come in a later request, so the link is kept as sent.
    ``framework`` overrides the framework read from the instrumentation scope.

    ``step_index`` numbers a trace's events in time order (start events at the span's start, end events at its
    end), counted within the batch.
    """
    tree = _Tree(spans)
    result = MappedSpans()
    drafts_by_span: dict[SpanKey, list[dict[str, Any]]] = {}
    order_by_trace: dict[str, list[tuple[tuple[int, int, int, int, int], dict[str, Any]]]] = defaultdict(list)
    for position, (key, span) in enumerate(tree.spans.items()):
        try:
            drafts = _drafts(span, tree, complete_traces, framework)
        except (TypeError, ValueError) as error:
            result.rejected.append(SpanRejection(span.trace_id, span.span_id, f"span could not be mapped: {error}"))
            continue
        drafts_by_span[key] = drafts
        depth = tree.context(key).depth
        for draft in drafts:
            phase = draft.pop("_phase")
            sort_time = draft.pop("_time_ns")
            # Parents start before their children and end after them when the clock cannot tell them apart.
            tiebreak = depth if phase == 0 else -depth
            order_by_trace[span.trace_id].append(((sort_time, min(phase, 1), tiebreak, phase, position), draft))
    for entries in order_by_trace.values():
        entries.sort(key=lambda entry: entry[0])
        for step, (_, draft) in enumerate(entries):
            draft["step_index"] = step
    for key, drafts in drafts_by_span.items():
        try:
            result.events.extend(AgentEvent(**draft) for draft in drafts)
        except ValidationError as error:
            reason = f"span could not be mapped: {describe_validation_error(error)}"
            result.rejected.append(SpanRejection(key[0], key[1], reason))
    return result


def _drafts(span: Span, tree: _Tree, complete_traces: bool, framework: str | None) -> list[dict[str, Any]]:
    """The events of one span as keyword dicts (step_index is filled in once the whole trace is ordered)."""
    key = (span.trace_id, span.span_id)
    reading = tree.readings[key]
    context = tree.context(key)
    agent_id = context.agent_name or _service_name(span.resource)
    common: dict[str, Any] = {
        "session_id": (context.session_id or span.trace_id)[:MAX_ID_LENGTH],
        "agent_id": agent_id[:MAX_ID_LENGTH],
        "agent_name": agent_id[:MAX_NAME_LENGTH],
        "framework": (framework or framework_of(span.scope_name, span.resource) or None),
        "trace_id": span.trace_id,
        "span_id": span.span_id,
    }
    if common["framework"] is not None:
        common["framework"] = common["framework"][:64]
    start_id = start_event_id(span.trace_id, span.span_id)
    end_ns = span.end_ns if span.end_ns >= span.start_ns else span.start_ns
    duration_ms = (end_ns - span.start_ns) / 1e6 if span.end_ns else None
    pair = _PAIRS.get(reading.category)
    head_attributes, tail_attributes = _split_attributes(span.attributes, paired=pair is not None)
    head_attributes.update(_span_metadata(span, reading, tree))
    parent_id = _parent_event_id(span, tree, complete_traces, head_attributes)
    head_attributes.update(_request_attributes(reading))
    if pair is not None:
        head_content = _take_content(head_attributes, reading.input_text, reading.input_attribute)
        tail_content = _take_content(tail_attributes, reading.output_text, reading.output_attribute)
    elif reading.input_text:
        head_content = _take_content(head_attributes, reading.input_text, reading.input_attribute)
    else:
        head_content = _take_content(head_attributes, reading.output_text, reading.output_attribute)
    name = _event_name(span, reading)
    status = _STATUSES[span.status]
    head: dict[str, Any] = {
        **common,
        "id": start_id,
        "type": pair[0] if pair else EventType.CUSTOM,
        "name": name,
        "timestamp": nanos_to_datetime(span.start_ns),
        "parent_id": parent_id,
        "content": head_content,
        "attributes": head_attributes,
        "_phase": 0,
        "_time_ns": span.start_ns,
    }
    drafts = [head]
    if pair is None:
        head.update(duration_ms=duration_ms, status=status)
        if span.status_message:
            head_attributes[otlp.OTEL_STATUS_DESCRIPTION] = span.status_message
    for index, event in enumerate(span.events):
        if event.name != otlp.EXCEPTION_EVENT_NAME:
            continue
        error_attributes = dict(event.attributes)
        error_type = event.attributes.get(otlp.EXCEPTION_TYPE)
        message = event.attributes.get(otlp.EXCEPTION_MESSAGE)
        if error_type is not None:
            error_attributes[semconv.ESCAI_ERROR_TYPE] = str(error_type)
        if message is not None:
            error_attributes[semconv.ESCAI_ERROR_MESSAGE] = str(message)
        drafts.append(
            {
                **common,
                "id": error_event_id(span.trace_id, span.span_id, index),
                "type": EventType.ERROR,
                "name": str(error_type)[:MAX_NAME_LENGTH] if error_type is not None else otlp.EXCEPTION_EVENT_NAME,
                "timestamp": nanos_to_datetime(event.time_ns or span.start_ns),
                "parent_id": start_id,
                "content": str(message) if message is not None else None,
                "attributes": error_attributes,
                "status": EventStatus.ERROR,
                "_phase": 1,
                "_time_ns": event.time_ns or span.start_ns,
            }
        )
    if pair is not None:
        tail_attributes.update(_response_attributes(reading))
        if span.status_message:
            tail_attributes[otlp.OTEL_STATUS_DESCRIPTION] = span.status_message
        drafts.append(
            {
                **common,
                "id": end_event_id(span.trace_id, span.span_id),
                "type": pair[1],
                "name": name,
                "timestamp": nanos_to_datetime(end_ns),
                "parent_id": start_id,
                "content": tail_content,
                "attributes": tail_attributes,
                "tokens_input": reading.tokens_input,
                "tokens_output": reading.tokens_output,
                "cost": reading.cost,
                "duration_ms": duration_ms,
                "status": status,
                "_phase": 2,
                "_time_ns": end_ns,
            }
        )
    return drafts


def _take_content(attributes: dict[str, Any], text: str | None, source: str | None) -> str | None:
    """The event's content; an attribute that holds it verbatim moves there instead of being stored twice (prompts
    are the bulk of a span), and its name is kept so that the span can be rebuilt."""
    if source is not None and attributes.pop(source, None) is not None:
        attributes[otlp.ESCAI_OTEL_CONTENT_ATTRIBUTE] = source
    return text


def _service_name(resource: Mapping[str, Any]) -> str:
    name = resource.get(otlp.SERVICE_NAME)
    return name if isinstance(name, str) and name else otlp.DEFAULT_SERVICE_NAME


def _split_attributes(attributes: Mapping[str, Any], paired: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    if not paired:
        return dict(attributes), {}
    head: dict[str, Any] = {}
    tail: dict[str, Any] = {}
    for key, value in attributes.items():
        (tail if key.startswith(_OUTPUT_PREFIXES) else head)[key] = value
    return head, tail


def _resource_is_new(span: Span, tree: _Tree) -> bool:
    """Whether the span's resource differs from its parent's: the resource (the process that made the span) is
    kept once per subtree instead of on every event, since every span of one process repeats it."""
    if span.parent_span_id is None:
        return True
    parent = tree.spans.get((span.trace_id, span.parent_span_id))
    return parent is None or (parent.resource is not span.resource and parent.resource != span.resource)


def _span_metadata(span: Span, reading: SpanSemantics, tree: _Tree) -> dict[str, Any]:
    metadata: dict[str, Any] = {otlp.ESCAI_OTEL_SPAN_NAME: span.name}
    # Only what the event type does not already say: most spans are internal, and llm/tool/agent/other spans
    # are told apart by their event types; a chain shares agent_start/agent_end with agents.
    if span.kind not in ("internal", "unspecified"):
        metadata[otlp.ESCAI_OTEL_SPAN_KIND] = span.kind
    if reading.category is SpanCategory.CHAIN:
        metadata[otlp.ESCAI_OTEL_CATEGORY] = reading.category.value
    if span.scope_name:
        metadata[otlp.OTEL_SCOPE_NAME] = span.scope_name
    if span.scope_version:
        metadata[otlp.OTEL_SCOPE_VERSION] = span.scope_version
    if span.resource and _resource_is_new(span, tree):
        metadata[otlp.ESCAI_OTEL_RESOURCE] = dict(span.resource)
    other_events = [
        {"name": event.name, "time": nanos_to_datetime(event.time_ns).isoformat(), "attributes": dict(event.attributes)}
        for event in span.events
        if event.name != otlp.EXCEPTION_EVENT_NAME
    ]
    if other_events:
        metadata[otlp.ESCAI_OTEL_EVENTS] = other_events
    if span.links:
        metadata[otlp.ESCAI_OTEL_LINKS] = [dict(link) for link in span.links]
    return metadata


def _parent_event_id(span: Span, tree: _Tree, complete_traces: bool, attributes: dict[str, Any]) -> str | None:
    if span.parent_span_id is None:
        return None
    if not complete_traces or (span.trace_id, span.parent_span_id) in tree.spans:
        return start_event_id(span.trace_id, span.parent_span_id)
    # A whole trace whose parent span is absent: attach to the root, and say where the span said it belonged.
    attributes[otlp.ESCAI_OTEL_PARENT_SPAN_ID] = span.parent_span_id
    root = tree.parent_key(span)
    return start_event_id(*root) if root is not None else None


def _request_attributes(reading: SpanSemantics) -> dict[str, Any]:
    """The dialect-independent names of what the start event describes (GenAI names, as ESCAI stores them)."""
    found: dict[str, Any] = {}
    if reading.category is SpanCategory.LLM:
        if reading.request_model:
            found[semconv.GEN_AI_REQUEST_MODEL] = reading.request_model
        if reading.provider:
            found[semconv.GEN_AI_SYSTEM] = reading.provider
    if reading.tool_name:
        found[semconv.GEN_AI_TOOL_NAME] = reading.tool_name
    if reading.tool_call_id:
        found[semconv.GEN_AI_TOOL_CALL_ID] = reading.tool_call_id
    if reading.agent_name:
        found[semconv.GEN_AI_AGENT_NAME] = reading.agent_name
    if reading.session_id:
        found[semconv.SESSION_ID] = reading.session_id
    return found


def _response_attributes(reading: SpanSemantics) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if reading.category is SpanCategory.LLM and reading.model:
        found[semconv.GEN_AI_RESPONSE_MODEL] = reading.model
    if reading.finish_reasons:
        found[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = list(reading.finish_reasons)
    return found


def _event_name(span: Span, reading: SpanSemantics) -> str:
    if reading.category is SpanCategory.LLM:
        name = reading.model or span.name
    elif reading.category is SpanCategory.TOOL:
        name = reading.tool_name or span.name
    elif reading.category is SpanCategory.AGENT:
        name = reading.agent_name or span.name
    elif reading.category is SpanCategory.CHAIN:
        name = reading.entity_name or span.name
    else:
        name = span.name
    return name[:MAX_NAME_LENGTH]
