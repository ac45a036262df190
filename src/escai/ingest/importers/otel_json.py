"""OpenTelemetry span dumps (``{spans: [...], final_output}``, the any-agent format), one run per trace.

When the OTLP intake's converter ``escai.ingest.otlp.dump.events_from_span_dump`` is installed, it does the
mapping (so an imported dump and the same spans sent over OTLP are stored alike); this module then only wraps
each trace in a session with its annotations. Otherwise it maps the GenAI conventions itself:

================================================  ===========================================================
span (``gen_ai.operation.name``)                  events
================================================  ===========================================================
``call_llm``, ``chat``, ... (LLM operations)      llm_request (``gen_ai.input.messages``) -> llm_response
                                                  (``gen_ai.output``, tokens, cost = input + output cost)
``execute_tool``                                  tool_call (``gen_ai.tool.args``) -> tool_result (``gen_ai.output``)
``invoke_agent`` and anything else                agent_start -> agent_end
================================================  ===========================================================

Times are the spans' own (Unix nanoseconds); status ``error`` gives status error with the description. The agent
is the nearest ``invoke_agent`` span's ``gen_ai.agent.name``. The dumps carry no success label.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from escai.exceptions import IngestError
from escai.ingest.importers.base import (
    TOOL_ARGUMENTS,
    ImportedRun,
    ImportItem,
    RunBuilder,
    SkippedRecord,
    Source,
    as_text,
    digest,
    iter_records,
    mapping,
    require,
    session_id_for,
)
from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType

FORMAT = "otel-json"
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings", "completion", "call_llm"})
_AGENT_PAIR = (EventType.AGENT_START, EventType.AGENT_END)
_PAIRS = {"execute_tool": (EventType.TOOL_CALL, EventType.TOOL_RESULT)}
_DEFAULT_SERVICE = "unknown_service"

SpanDumpConverter = Callable[[Any], list[AgentEvent]]


def external_converter() -> SpanDumpConverter | None:
    """The OTLP intake's span-dump converter when that module is installed, else None."""
    try:
        module = importlib.import_module("escai.ingest.otlp.dump")
    except ImportError:
        return None
    converter = getattr(module, "events_from_span_dump", None)
    return converter if callable(converter) else None


def _hex(value: Any, width: int) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return f"{value:0{width}x}"
    if isinstance(value, str) and value:
        return value.lower().removeprefix("0x")
    return None


def _time(nanoseconds: Any) -> datetime | None:
    if isinstance(nanoseconds, int) and not isinstance(nanoseconds, bool) and nanoseconds > 0:
        return datetime.fromtimestamp(nanoseconds / 1e9, UTC)
    return None


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else None


def _cost(attributes: dict[str, Any]) -> float | None:
    parts = [attributes.get("gen_ai.usage.input_cost"), attributes.get("gen_ai.usage.output_cost")]
    numbers = [float(part) for part in parts if isinstance(part, int | float) and not isinstance(part, bool)]
    return sum(numbers) if numbers else None


def _framework(spans: list[dict[str, Any]]) -> str | None:
    for span in spans:
        resource = mapping(span.get("resource"))
        service = (resource.get("attributes") or {}).get("service.name")
        if isinstance(service, str) and service != _DEFAULT_SERVICE:
            return service
    if any(str(key).startswith("any_agent.") for span in spans for key in (span.get("attributes") or {})):
        return "any-agent"
    return None


def _span_facts(span: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    context = mapping(span.get("context"))
    parent = mapping(span.get("parent"))
    return _hex(context.get("trace_id"), 32), _hex(context.get("span_id"), 16), _hex(parent.get("span_id"), 16)


def _agent_of(span_id: str | None, spans: dict[str, dict[str, Any]], default: str) -> str:
    seen: set[str] = set()
    while span_id is not None and span_id in spans and span_id not in seen:
        seen.add(span_id)
        attributes = spans[span_id].get("attributes") or {}
        if attributes.get(semconv.GEN_AI_AGENT_NAME):
            return str(attributes[semconv.GEN_AI_AGENT_NAME])
        span_id = _span_facts(spans[span_id])[2]
    return default


def _convert_trace(document: dict[str, Any], trace_hex: str, spans: list[dict[str, Any]], ref: str) -> ImportedRun:
    by_id = {facts[1]: span for span in spans if (facts := _span_facts(span))[1] is not None}
    framework = _framework(spans)
    builder = RunBuilder(session_id_for(FORMAT, trace_hex, document), FORMAT, framework=framework, trace_id=trace_hex)
    moments: list[tuple[datetime, int, int, dict[str, Any]]] = []
    for index, span in enumerate(spans):
        start = _time(span.get("start_time"))
        end = _time(span.get("end_time")) or start
        if start is None or end is None:
            raise ValueError(f"span {span.get('name')!r} has no start time")
        moments += [(start, 0, index, span), (end, 1, -index, span)]
    moments.sort(key=lambda item: (item[0], item[1], item[2]))
    root_agent = next(
        (_agent_of(facts[1], by_id, "agent") for span in spans if (facts := _span_facts(span))[2] not in by_id),
        "agent",
    )
    annotations: dict[str, Any] = {"source": FORMAT, "labels": {}, "final_output": document.get("final_output")}
    builder.start(root_agent, task=None, annotations=annotations, timestamp=moments[0][0])
    opened: dict[str, str] = {}
    for moment, phase, _, span in moments:
        _, span_id, parent_id = _span_facts(span)
        attributes = dict(span.get("attributes") or {})
        operation = str(attributes.get(semconv.GEN_AI_OPERATION_NAME) or "")
        llm = operation in _LLM_OPERATIONS
        start_type, end_type = (
            (EventType.LLM_REQUEST, EventType.LLM_RESPONSE) if llm else _PAIRS.get(operation, _AGENT_PAIR)
        )
        name = str(attributes.get(semconv.GEN_AI_TOOL_NAME) or span.get("name") or operation)
        agent = _agent_of(span_id, by_id, root_agent)
        if start_type is EventType.TOOL_CALL:
            attributes[TOOL_ARGUMENTS] = attributes.get("gen_ai.tool.args")
        if phase == 0:
            content = attributes.get("gen_ai.tool.args") if start_type is EventType.TOOL_CALL else None
            content = content or attributes.get("gen_ai.input.messages")
            opened[str(span_id)] = builder.add(
                start_type,
                agent,
                content=as_text(content),
                name=name,
                parent_id=opened.get(str(parent_id)),
                attributes=attributes,
                timestamp=moment,
                span_id=span_id,
            )
            continue
        status_info = mapping(span.get("status"))
        code = str(status_info.get("status_code") or "unset").lower()
        status = EventStatus.ERROR if code == "error" else EventStatus.OK if code == "ok" else EventStatus.UNSET
        result_attributes: dict[str, Any] = {semconv.GEN_AI_OPERATION_NAME: operation} if operation else {}
        if status is EventStatus.ERROR and status_info.get("description"):
            result_attributes[semconv.ESCAI_ERROR_MESSAGE] = str(status_info["description"])
        if start_type is EventType.TOOL_CALL:
            result_attributes[semconv.GEN_AI_TOOL_NAME] = name
        start_time, end_time = _time(span.get("start_time")), _time(span.get("end_time"))
        builder.add(
            end_type,
            agent,
            content=as_text(attributes.get("gen_ai.output")),
            name=name,
            parent_id=opened.get(str(span_id)),
            attributes=result_attributes,
            status=status,
            timestamp=moment,
            span_id=span_id,
            tokens_input=_count(attributes.get(semconv.GEN_AI_USAGE_INPUT_TOKENS)) if llm else None,
            tokens_output=_count(attributes.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)) if llm else None,
            cost=_cost(attributes) if llm else None,
            duration_ms=(end_time - start_time).total_seconds() * 1000 if start_time and end_time else None,
        )
    builder.finish(root_agent, success=None, content=as_text(document.get("final_output")), timestamp=moments[-1][0])
    return builder.build(ref)


def convert(record: Any, ref: str) -> list[ImportedRun]:
    """The runs of one span dump (one per trace id), converted by this module."""
    spans = require(record, "spans", list)
    traces: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        if isinstance(span, dict):
            trace_hex = _span_facts(span)[0] or "trace"
            traces.setdefault(trace_hex, []).append(span)
    if not traces:
        raise ValueError("the dump has no spans")
    return [_convert_trace(record, trace_hex, members, ref) for trace_hex, members in traces.items()]


def wrap_external(record: Any, ref: str, converter: SpanDumpConverter) -> list[ImportedRun]:
    """The runs of one span dump converted by the OTLP intake, each given its session annotations."""
    require(record, "spans", list)
    sessions: dict[str, list[AgentEvent]] = {}
    for event in converter(record):
        sessions.setdefault(event.session_id, []).append(event)
    runs = []
    for session_id, events in sessions.items():
        annotations = {"source": FORMAT, "labels": {}, "final_output": record.get("final_output")}
        runs.append(ImportedRun(session_id, _with_session(session_id, events, annotations), annotations, FORMAT, ref))
    return runs


def _with_session(session_id: str, events: list[AgentEvent], annotations: dict[str, Any]) -> list[AgentEvent]:
    """``events`` with the annotations on their session_start event, adding start and end events if missing."""
    events = sorted(events, key=lambda event: event.timestamp)
    starts = [index for index, event in enumerate(events) if event.type is EventType.SESSION_START]
    if starts:
        event = events[starts[0]]
        events[starts[0]] = event.model_copy(
            update={"attributes": {**event.attributes, semconv.ESCAI_ANNOTATIONS: annotations}}
        )
        return events
    first, last = events[0], events[-1]
    key = digest([event.id for event in events])
    start = AgentEvent(
        id=f"{session_id[:100]}#start-{key}",
        session_id=session_id,
        agent_id=first.agent_id,
        framework=first.framework,
        type=EventType.SESSION_START,
        timestamp=first.timestamp,
        trace_id=first.trace_id,
        attributes={semconv.ESCAI_ANNOTATIONS: annotations},
    )
    end = AgentEvent(
        id=f"{session_id[:100]}#end-{key}",
        session_id=session_id,
        agent_id=first.agent_id,
        framework=first.framework,
        type=EventType.SESSION_END,
        timestamp=last.timestamp,
        trace_id=last.trace_id,
        content=as_text(annotations.get("final_output")),
    )
    return [start, *events, end]


class OtelJsonImporter:
    """OpenTelemetry span dumps (any-agent ``{spans, final_output}``)."""

    name = FORMAT

    def read(self, source: Source) -> Iterator[ImportItem]:
        """One run per trace of each dump."""
        converter = external_converter()
        # Exact integers: the dumps write 128-bit trace ids and 64-bit span ids as JSON numbers.
        for ref, record in iter_records(source, exact_integers=True):
            if isinstance(record, SkippedRecord):
                yield record
                continue
            try:
                runs = convert(record, ref) if converter is None else wrap_external(record, ref, converter)
            except (IngestError, ValueError, TypeError, KeyError, AttributeError) as error:
                yield SkippedRecord(ref, str(error))
                continue
            if not runs:
                yield SkippedRecord(ref, "the span dump holds no span that could be read")
            yield from runs
