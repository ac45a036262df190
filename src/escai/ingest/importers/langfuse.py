"""Langfuse trace exports: ``{trace, observations}``, one run per trace.

Every observation gives a pair of events at its start and end times, linked (the end's parent is the start) and
placed in the tree by ``parentObservationId`` (a root observation hangs under the session_start event):

=============================================  ======================================================
observation type                               events
=============================================  ======================================================
GENERATION, EMBEDDING                          llm_request (input, model, parameters) -> llm_response
                                               (output, tokens from ``usageDetails``, cost, latency)
TOOL, RETRIEVER, EVALUATOR, GUARDRAIL          tool_call (input) -> tool_result (output)
AGENT, CHAIN, SPAN (and any other type)        agent_start (input) -> agent_end (output)
EVENT                                          one custom event
=============================================  ======================================================

Level ERROR gives status error on the closing event (with ``statusMessage``); level WARNING is kept as an
attribute. An event's agent is the nearest AGENT observation at or above it (``agent_run [hello_agent]`` is
``hello_agent``), else the trace's name. The framework is read from the instrumentation scope
(``openinference.instrumentation.agno`` is ``agno``) or LangGraph metadata. Langfuse records no success label:
the outcome stays unknown; trace scores, when exported, are kept in annotations.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from escai.ingest.importers.base import (
    ImportedRun,
    ImportItem,
    RunBuilder,
    Source,
    as_text,
    convert_records,
    parse_time,
    require,
    session_id_for,
)
from escai.model import semconv
from escai.model.events import EventStatus, EventType

FORMAT = "langfuse"
OBSERVATION_ID = "langfuse.observation.id"
OBSERVATION_TYPE = "langfuse.observation.type"
OBSERVATION_LEVEL = "langfuse.observation.level"
METADATA = "langfuse.metadata"
STATUS_MESSAGE = "langfuse.status_message"
MODEL_PARAMETERS = "llm.invocation_parameters"

_PAIRS = {
    "GENERATION": (EventType.LLM_REQUEST, EventType.LLM_RESPONSE),
    "EMBEDDING": (EventType.LLM_REQUEST, EventType.LLM_RESPONSE),
    "TOOL": (EventType.TOOL_CALL, EventType.TOOL_RESULT),
    "RETRIEVER": (EventType.TOOL_CALL, EventType.TOOL_RESULT),
    "EVALUATOR": (EventType.TOOL_CALL, EventType.TOOL_RESULT),
    "GUARDRAIL": (EventType.TOOL_CALL, EventType.TOOL_RESULT),
}
_AGENT_PAIR = (EventType.AGENT_START, EventType.AGENT_END)
_TOOL_PREFIXES = ("execute_tool ", "running tool: ")
_BRACKETED = re.compile(r"\[(?P<name>[^\]]+)\]")
_SCOPE_PREFIXES = ("openinference.instrumentation.", "opentelemetry.instrumentation.", "ai.")
_GENERIC_SCOPES = frozenset({"langfuse-sdk", "none", ""})


def agent_name(observation_name: str) -> str:
    """The agent an AGENT observation names: ``agent_run [x]`` -> ``x``, ``invoke_agent x`` -> ``x``."""
    bracketed = _BRACKETED.search(observation_name)
    if bracketed:
        return bracketed["name"].strip()
    return observation_name.removeprefix("invoke_agent ").strip() or observation_name


def tool_name(observation_name: str) -> str:
    """The tool a TOOL observation ran, without the instrumentation's ``execute_tool`` / ``running tool:``."""
    for prefix in _TOOL_PREFIXES:
        if observation_name.startswith(prefix):
            return observation_name[len(prefix) :].strip()
    return observation_name


def framework_of(observations: list[dict[str, Any]]) -> str | None:
    """The framework that produced the trace, from instrumentation scopes or LangGraph metadata."""
    scopes: Counter[str] = Counter()
    for observation in observations:
        metadata = observation.get("metadata")
        if not isinstance(metadata, dict):
            continue
        if any(key.startswith("langgraph_") for key in metadata):
            return "langgraph"
        scope = metadata.get("scope")
        name = str(scope.get("name") or "") if isinstance(scope, dict) else ""
        if name.lower() not in _GENERIC_SCOPES:
            for prefix in _SCOPE_PREFIXES:
                name = name.removeprefix(prefix)
            scopes[name] += 1
    return scopes.most_common(1)[0][0] if scopes else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else None


def _tokens(usage: Any, *keys: str) -> int | None:
    if not isinstance(usage, dict):
        return None
    for key in keys:
        value = usage.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return int(value)
    return None


def _depths(observations: dict[str, dict[str, Any]]) -> dict[str, int]:
    depths: dict[str, int] = {}
    for key in observations:
        seen = set()
        node, depth = key, 0
        while (parent := observations[node].get("parentObservationId")) in observations and parent not in seen:
            seen.add(parent)
            node, depth = parent, depth + 1
        depths[key] = depth
    return depths


def _agent_of(key: str, observations: dict[str, dict[str, Any]], default: str) -> str:
    node: str | None = key
    seen = set()
    while node in observations and node not in seen:
        seen.add(node)
        observation = observations[node]
        if observation.get("type") == "AGENT" and observation.get("name"):
            return agent_name(str(observation["name"]))
        node = observation.get("parentObservationId")
    return default


def convert(record: Any, ref: str) -> ImportedRun:
    """One Langfuse trace export as a run."""
    trace = require(record, "trace", dict)
    listed = require(record, "observations", list)
    observations = {str(item.get("id")): item for item in listed if isinstance(item, dict) and item.get("id")}
    trace_time = parse_time(trace.get("timestamp"))
    starts = {key: parse_time(item.get("startTime")) or trace_time for key, item in observations.items()}
    if trace_time is None and not any(starts.values()):
        raise ValueError("neither the trace nor its observations have a time")
    ends = {key: parse_time(item.get("endTime")) or starts[key] for key, item in observations.items()}
    known = [time for time in (*starts.values(), *ends.values(), trace_time) if time is not None]
    first: datetime = min(known)
    last: datetime = max(known)
    trace_name = str(trace.get("name") or "agent")
    trace_id = str(trace.get("id") or "trace")
    builder = RunBuilder(
        session_id_for(FORMAT, trace_id, record),
        FORMAT,
        framework=framework_of(list(observations.values())),
        trace_id=trace_id if len(trace_id) <= 64 else None,
    )
    annotations: dict[str, Any] = {
        "source": FORMAT,
        "labels": {"scores": trace["scores"]} if trace.get("scores") else {},
        "trace": {"id": trace_id, "name": trace.get("name"), "tags": trace.get("tags")},
    }
    attributes: dict[str, Any] = {}
    if trace.get("sessionId"):
        attributes[semconv.GEN_AI_CONVERSATION_ID] = str(trace["sessionId"])
    if isinstance(trace.get("metadata"), dict) and trace["metadata"]:
        attributes[METADATA] = trace["metadata"]
    roots = [key for key, item in observations.items() if item.get("parentObservationId") not in observations]
    root_agent = _agent_of(roots[0], observations, trace_name) if roots else trace_name
    builder.start(
        root_agent, task=as_text(trace.get("input")), annotations=annotations, attributes=attributes, timestamp=first
    )
    depths = _depths(observations)
    moments = [(starts[key] or first, 0, depths[key], index, key) for index, key in enumerate(observations)]
    moments += [(ends[key] or first, 1, -depths[key], index, key) for index, key in enumerate(observations)]
    opened: dict[str, str] = {}
    for moment, phase, _, _, key in sorted(moments):
        duration = None
        if phase == 1 and starts[key] is not None and ends[key] is not None:
            duration = max(0.0, (ends[key] - starts[key]).total_seconds() * 1000)  # type: ignore[operator]
        _emit(builder, observations[key], key, (phase == 0, moment, duration), opened, observations, trace_name)
    builder.finish(root_agent, success=None, content=as_text(trace.get("output")), timestamp=last)
    return builder.build(ref)


def _emit(
    builder: RunBuilder,
    observation: dict[str, Any],
    key: str,
    when: tuple[bool, datetime, float | None],
    opened: dict[str, str],
    observations: dict[str, dict[str, Any]],
    trace_name: str,
) -> None:
    opening, moment, duration = when
    kind = str(observation.get("type") or "SPAN").upper()
    agent = _agent_of(key, observations, trace_name)
    raw_name = str(observation.get("name") or kind.lower())
    name = tool_name(raw_name) if kind in _PAIRS and _PAIRS[kind][0] is EventType.TOOL_CALL else raw_name
    attributes: dict[str, Any] = {OBSERVATION_ID: key, OBSERVATION_TYPE: kind}
    span_id = key if len(key) <= 32 else None
    if kind == "EVENT":
        if opening:
            attributes[METADATA] = observation.get("metadata")
            builder.add(
                EventType.CUSTOM,
                agent,
                content=as_text(observation.get("output") or observation.get("input")),
                name=name,
                parent_id=opened.get(str(observation.get("parentObservationId"))),
                attributes=attributes,
                timestamp=moment,
                span_id=span_id,
            )
        return
    start_type, end_type = _PAIRS.get(kind, _AGENT_PAIR)
    model = observation.get("model")
    if start_type is EventType.TOOL_CALL:
        attributes[semconv.GEN_AI_TOOL_NAME] = name
    if opening:
        if isinstance(model, str):
            attributes[semconv.GEN_AI_REQUEST_MODEL] = model
        if observation.get("modelParameters"):
            attributes[MODEL_PARAMETERS] = observation["modelParameters"]
        if isinstance(observation.get("metadata"), dict):
            attributes[METADATA] = observation["metadata"]
        opened[key] = builder.add(
            start_type,
            agent,
            content=as_text(observation.get("input")),
            name=name,
            parent_id=opened.get(str(observation.get("parentObservationId"))),
            attributes=attributes,
            timestamp=moment,
            span_id=span_id,
        )
        return
    level = str(observation.get("level") or "DEFAULT").upper()
    status = EventStatus.ERROR if level == "ERROR" else EventStatus.OK
    if level != "DEFAULT":
        attributes[OBSERVATION_LEVEL] = level
    if observation.get("statusMessage"):
        message_key = semconv.ESCAI_ERROR_MESSAGE if status is EventStatus.ERROR else STATUS_MESSAGE
        attributes[message_key] = str(observation["statusMessage"])
    if isinstance(model, str):
        attributes[semconv.GEN_AI_RESPONSE_MODEL] = model
    usage = observation.get("usageDetails")
    costs = observation.get("costDetails")
    builder.add(
        end_type,
        agent,
        content=as_text(observation.get("output")),
        name=name,
        parent_id=opened.get(key),
        attributes=attributes,
        status=status,
        timestamp=moment,
        span_id=span_id,
        tokens_input=_tokens(usage, "input", "prompt_tokens", "promptTokens"),
        tokens_output=_tokens(usage, "output", "completion_tokens", "completionTokens"),
        cost=_number(costs.get("total")) if isinstance(costs, dict) else _number(observation.get("totalCost")),
        duration_ms=duration,
    )


class LangfuseImporter:
    """Langfuse trace exports (``{trace, observations}``)."""

    name = FORMAT

    def read(self, source: Source) -> Iterator[ImportItem]:
        """One run per exported trace (a file, a JSON list of exports, or JSON Lines)."""
        return convert_records(source, convert)
