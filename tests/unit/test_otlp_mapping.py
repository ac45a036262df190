"""OTLP spans to ESCAI events: the three attribute dialects, the span tree and deterministic ids."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from escai.ingest.otlp import (
    Span,
    SpanEvent,
    events_from_spans,
)
from escai.ingest.otlp.dialects import SpanCategory, category_of, framework_of, read_span
from escai.ingest.otlp.mapping import span_key_of_event_id, start_event_id
from escai.model.events import AgentEvent, EventStatus, EventType

TRACE = "0af7651916cd43dd8448eb211c80319c"
T0 = 1_760_000_000_000_000_000  # 2025-10-09, in Unix nanoseconds
MS = 1_000_000


def span_id(number: int) -> str:
    """A readable 16-hex-digit span id."""
    return f"{number:016x}"


def make_span(number: int, parent: int | None, name: str, start_ms: int, end_ms: int, **fields: Any) -> Span:
    """A span of the test trace, ``start_ms``/``end_ms`` after T0."""
    values: dict[str, Any] = {
        "trace_id": TRACE,
        "span_id": span_id(number),
        "parent_span_id": span_id(parent) if parent is not None else None,
        "name": name,
        "start_ns": T0 + start_ms * MS,
        "end_ns": T0 + end_ms * MS,
        "resource": {"service.name": "travel-service"},
    }
    values.update(fields)
    return Span(**values)


def by_id(events: Sequence[AgentEvent]) -> dict[str, AgentEvent]:
    """Events keyed by id."""
    return {event.id: event for event in events}


def shape(events: Sequence[AgentEvent]) -> list[tuple[int | None, str, str | None, str | None]]:
    """Each event as (step, type, name, parent's type and name), in step order: the tree in a comparable form."""
    index = by_id(events)
    rows = []
    for event in sorted(events, key=lambda item: item.step_index or 0):
        parent = index.get(event.parent_id or "")
        rows.append(
            (event.step_index, event.type.value, event.name, f"{parent.type.value}:{parent.name}" if parent else None)
        )
    return rows


def gen_ai_trace() -> list[Span]:
    """An agent in OpenTelemetry GenAI conventions: invoke_agent -> chat, execute_tool (failing), chat."""
    spans = [
        make_span(
            1, None, "invoke_agent planner", 0, 100,
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "planner",
                "gen_ai.conversation.id": "conv-42",
            },
        ),
        make_span(
            2, 1, "chat gpt-4o", 10, 30, kind="client", status="ok",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 350,
                "gen_ai.usage.output_tokens": 42,
                "gen_ai.response.finish_reasons": ["tool_calls"],
                "gen_ai.input.messages": '[{"role":"user","content":"Weather in Lisbon?"}]',
                "gen_ai.output.messages": '[{"role":"assistant","content":"Calling get_weather."}]',
            },
        ),
        make_span(
            3, 1, "execute_tool get_weather", 31, 40, status="error", status_message="upstream timeout",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "get_weather",
                "gen_ai.tool.call.id": "call-1",
                "gen_ai.tool.call.arguments": '{"city": "Lisbon"}',
            },
            events=(
                SpanEvent(
                    "exception",
                    T0 + 39 * MS,
                    {"exception.type": "TimeoutError", "exception.message": "weather API timed out"},
                ),
            ),
        ),
        make_span(
            4, 1, "chat gpt-4o", 50, 90,
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                        "gen_ai.usage.input_tokens": 400, "gen_ai.usage.output_tokens": 20},
        ),
    ]  # fmt: skip
    return [dataclasses.replace(span, scope_name="opentelemetry.instrumentation.openai_v2") for span in spans]


def test_gen_ai_spans_become_paired_events_under_the_agent() -> None:
    """GenAI spans map to agent/llm/tool event pairs with the tree, agent, session and framework kept."""
    mapped = events_from_spans(gen_ai_trace())
    assert mapped.rejected == []
    assert shape(mapped.events) == [
        (0, "agent_start", "planner", None),
        (1, "llm_request", "gpt-4o-2024-08-06", "agent_start:planner"),
        (2, "llm_response", "gpt-4o-2024-08-06", "llm_request:gpt-4o-2024-08-06"),
        (3, "tool_call", "get_weather", "agent_start:planner"),
        (4, "error", "TimeoutError", "tool_call:get_weather"),
        (5, "tool_result", "get_weather", "tool_call:get_weather"),
        (6, "llm_request", "gpt-4o", "agent_start:planner"),
        (7, "llm_response", "gpt-4o", "llm_request:gpt-4o"),
        (8, "agent_end", "planner", "agent_start:planner"),
    ]
    assert {(event.session_id, event.agent_id, event.framework) for event in mapped.events} == {
        ("conv-42", "planner", "openai")
    }
    events = by_id(mapped.events)
    request = events[f"{TRACE}-{span_id(2)}-start"]
    response = events[f"{TRACE}-{span_id(2)}-end"]
    assert request.content == '[{"role":"user","content":"Weather in Lisbon?"}]'
    # Text taken verbatim from one attribute is stored once, as content, with the attribute's name kept.
    assert "gen_ai.input.messages" not in request.attributes
    assert request.attributes["escai.otel.content_attribute"] == "gen_ai.input.messages"
    assert request.attributes["gen_ai.request.model"] == "gpt-4o"
    assert request.attributes["gen_ai.system"] == "openai"
    assert "gen_ai.usage.input_tokens" not in request.attributes
    assert (response.tokens_input, response.tokens_output, response.status) == (350, 42, EventStatus.OK)
    assert response.attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert response.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert response.content == '[{"role":"assistant","content":"Calling get_weather."}]'
    assert response.duration_ms == 20.0
    assert request.attributes["escai.otel.span.kind"] == "client"
    tool_result = events[f"{TRACE}-{span_id(3)}-end"]
    assert tool_result.status is EventStatus.ERROR
    assert tool_result.attributes["otel.status_description"] == "upstream timeout"
    assert events[f"{TRACE}-{span_id(3)}-start"].content == '{"city": "Lisbon"}'
    error = events[f"{TRACE}-{span_id(3)}-error-0"]
    assert (error.content, error.status) == ("weather API timed out", EventStatus.ERROR)
    assert error.attributes["escai.error.type"] == "TimeoutError"


def openinference_trace() -> list[Span]:
    """A LangChain run in OpenInference conventions: CHAIN -> LLM, TOOL; session.id on every span."""
    scope = {"scope_name": "openinference.instrumentation.langchain", "scope_version": "0.1.80"}
    return [
        make_span(
            1, None, "RunnableSequence", 0, 50,
            attributes={"openinference.span.kind": "CHAIN", "session.id": "sess-7",
                        "input.value": "Weather in Paris?", "output.value": "sunny in Paris"},
            **scope,
        ),
        make_span(
            2, 1, "ChatOpenAI", 5, 20,
            attributes={
                "openinference.span.kind": "LLM",
                "session.id": "sess-7",
                "llm.model_name": "gpt-4o-mini",
                "llm.provider": "openai",
                "llm.token_count.prompt": 12,
                "llm.token_count.completion": 4,
                "llm.cost.total": 0.0021,
                "llm.finish_reason": "stop",
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": "You are terse.",
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": "Weather in Paris?",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "Let me check.",
                "input.value": '{"messages": "serialised"}',
            },
            **scope,
        ),
        make_span(
            3, 1, "get_weather", 21, 30,
            attributes={"openinference.span.kind": "TOOL", "session.id": "sess-7", "tool.name": "get_weather",
                        "input.value": "Paris", "output.value": "sunny in Paris"},
            **scope,
        ),
    ]  # fmt: skip


def test_openinference_spans_are_read_with_flattened_messages_and_usage() -> None:
    """OpenInference kinds, model, token counts, cost and flattened messages map onto ESCAI fields."""
    mapped = events_from_spans(openinference_trace())
    assert shape(mapped.events) == [
        (0, "agent_start", "RunnableSequence", None),
        (1, "llm_request", "gpt-4o-mini", "agent_start:RunnableSequence"),
        (2, "llm_response", "gpt-4o-mini", "llm_request:gpt-4o-mini"),
        (3, "tool_call", "get_weather", "agent_start:RunnableSequence"),
        (4, "tool_result", "get_weather", "tool_call:get_weather"),
        (5, "agent_end", "RunnableSequence", "agent_start:RunnableSequence"),
    ]
    # No agent span: the agent is the service; the session is OpenInference's session.id; the framework the scope.
    assert {(event.session_id, event.agent_id, event.framework) for event in mapped.events} == {
        ("sess-7", "travel-service", "langchain")
    }
    events = by_id(mapped.events)
    request, response = events[f"{TRACE}-{span_id(2)}-start"], events[f"{TRACE}-{span_id(2)}-end"]
    assert orjson.loads(request.content or "") == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    assert orjson.loads(response.content or "") == [{"role": "assistant", "content": "Let me check."}]
    # Assembled text leaves the flattened attributes in place (they are the structured original).
    assert request.attributes["llm.input_messages.1.message.content"] == "Weather in Paris?"
    assert "escai.otel.content_attribute" not in request.attributes
    assert (response.tokens_input, response.tokens_output, response.cost) == (12, 4, 0.0021)
    assert response.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert request.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert request.attributes["otel.scope.name"] == "openinference.instrumentation.langchain"
    assert events[f"{TRACE}-{span_id(1)}-start"].attributes["escai.otel.category"] == "chain"
    assert events[f"{TRACE}-{span_id(3)}-end"].content == "sunny in Paris"


def openllmetry_trace() -> list[Span]:
    """An OpenLLMetry (Traceloop) run: workflow -> agent -> LLM (flattened gen_ai.prompt), tool."""
    session = {"traceloop.association.properties.session_id": "chat-9"}
    return [
        make_span(
            1, None, "trip.workflow", 0, 100,
            attributes={"traceloop.span.kind": "workflow", "traceloop.entity.name": "trip", **session},
        ),
        make_span(
            2, 1, "planner.agent", 1, 99,
            attributes={"traceloop.span.kind": "agent", "traceloop.entity.name": "planner", **session},
        ),
        make_span(
            3, 2, "openai.chat", 10, 20,
            attributes={
                "llm.request.type": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.prompt_tokens": 30,
                "gen_ai.usage.completion_tokens": 5,
                "gen_ai.prompt.0.role": "user",
                "gen_ai.prompt.0.content": "Plan a trip",
                "gen_ai.completion.0.role": "assistant",
                "gen_ai.completion.0.content": "Booking flights.",
                "gen_ai.completion.0.finish_reason": "stop",
                **session,
            },
        ),
        make_span(
            4, 2, "book_flight.tool", 30, 40,
            attributes={"traceloop.span.kind": "tool", "traceloop.entity.name": "book_flight",
                        "traceloop.entity.input": '{"to": "LIS"}', "traceloop.entity.output": '{"ok": true}',
                        **session},
        ),
    ]  # fmt: skip


def test_openllmetry_spans_name_the_agent_and_session_from_traceloop_attributes() -> None:
    """Traceloop span kinds, entity names, association properties and flattened prompts are understood."""
    mapped = events_from_spans(openllmetry_trace())
    assert shape(mapped.events) == [
        (0, "agent_start", "trip", None),
        (1, "agent_start", "planner", "agent_start:trip"),
        (2, "llm_request", "gpt-4o", "agent_start:planner"),
        (3, "llm_response", "gpt-4o", "llm_request:gpt-4o"),
        (4, "tool_call", "book_flight", "agent_start:planner"),
        (5, "tool_result", "book_flight", "tool_call:book_flight"),
        (6, "agent_end", "planner", "agent_start:planner"),
        (7, "agent_end", "trip", "agent_start:trip"),
    ]
    agents = {event.name: event.agent_id for event in mapped.events if event.type is EventType.AGENT_START}
    # The workflow is not an agent: it runs as the service; everything below the agent span is the planner's.
    assert agents == {"trip": "travel-service", "planner": "planner"}
    assert {event.agent_id for event in mapped.events if event.type is not EventType.AGENT_START} >= {"planner"}
    assert {event.session_id for event in mapped.events} == {"chat-9"}
    events = by_id(mapped.events)
    request, response = events[f"{TRACE}-{span_id(3)}-start"], events[f"{TRACE}-{span_id(3)}-end"]
    assert orjson.loads(request.content or "") == [{"role": "user", "content": "Plan a trip"}]
    assert orjson.loads(response.content or "") == [
        {"role": "assistant", "content": "Booking flights.", "finish_reason": "stop"}
    ]
    assert (response.tokens_input, response.tokens_output) == (30, 5)
    assert response.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert events[f"{TRACE}-{span_id(4)}-start"].content == '{"to": "LIS"}'
    assert events[f"{TRACE}-{span_id(4)}-end"].content == '{"ok": true}'


def test_ids_are_deterministic_and_independent_of_batching() -> None:
    """The same spans give the same event ids and parents whether sent together, reversed or one at a time."""
    spans = gen_ai_trace()
    together = events_from_spans(spans).events
    again = events_from_spans(list(reversed(spans))).events
    one_by_one = [event for span in spans for event in events_from_spans([span]).events]
    assert sorted(event.model_dump_json() for event in together) == sorted(event.model_dump_json() for event in again)
    assert {(event.id, event.parent_id) for event in together} == {(event.id, event.parent_id) for event in one_by_one}
    assert span_key_of_event_id(together[0].id) == (TRACE, span_id(1))
    assert span_key_of_event_id("not-an-otlp-event") is None


def test_a_missing_parent_keeps_its_link_over_otlp_and_joins_the_root_in_a_dump() -> None:
    """Over OTLP a span names its absent parent (it may come later); in a whole-trace dump it joins the root."""
    spans = [
        make_span(1, None, "invoke_agent solver", 0, 100, attributes={"gen_ai.operation.name": "invoke_agent"}),
        make_span(3, 2, "execute_tool search", 10, 20, attributes={"gen_ai.tool.name": "search"}),
    ]
    streamed = by_id(events_from_spans(spans).events)
    orphan = streamed[f"{TRACE}-{span_id(3)}-start"]
    assert orphan.parent_id == start_event_id(TRACE, span_id(2))
    # Context still comes from the trace's root: every span of a trace descends from it.
    assert orphan.agent_id == "solver"
    dumped = by_id(events_from_spans(spans, complete_traces=True).events)
    attached = dumped[f"{TRACE}-{span_id(3)}-start"]
    assert attached.parent_id == start_event_id(TRACE, span_id(1))
    assert attached.attributes["escai.otel.parent_span_id"] == span_id(2)


def test_parents_order_before_children_when_timestamps_tie() -> None:
    """Spans that start and end at the same instant still give parent start < child start < child end < parent end."""
    spans = [
        make_span(2, 1, "execute_tool t", 0, 0, attributes={"gen_ai.tool.name": "t"}),
        make_span(1, None, "invoke_agent a", 0, 0, attributes={"gen_ai.operation.name": "invoke_agent"}),
    ]
    assert [row[:2] for row in shape(events_from_spans(spans).events)] == [
        (0, "agent_start"),
        (1, "tool_call"),
        (2, "tool_result"),
        (3, "agent_end"),
    ]


def test_unknown_spans_become_one_custom_event_that_keeps_its_children() -> None:
    """A span in no dialect (an HTTP call) is one custom event, and spans below it still hang from it."""
    spans = [
        make_span(1, None, "GET /search", 0, 30, kind="client", status="ok", attributes={"http.method": "GET"}),
        make_span(2, 1, "execute_tool parse", 10, 20, attributes={"gen_ai.operation.name": "execute_tool"}),
    ]
    events = by_id(events_from_spans(spans).events)
    custom = events[f"{TRACE}-{span_id(1)}-start"]
    assert (custom.type, custom.name, custom.duration_ms, custom.status) == (
        EventType.CUSTOM,
        "GET /search",
        30.0,
        EventStatus.OK,
    )
    assert f"{TRACE}-{span_id(1)}-end" not in events
    assert events[f"{TRACE}-{span_id(2)}-start"].parent_id == custom.id
    assert events[f"{TRACE}-{span_id(2)}-start"].name == "parse"


def test_a_span_whose_events_cannot_be_built_is_rejected_alone() -> None:
    """A span whose events break the event model (here an over-long trace id) is refused with the reason, and the
    other spans of the batch are still mapped."""
    good = make_span(1, None, "invoke_agent a", 0, 10, attributes={"gen_ai.operation.name": "invoke_agent"})
    bad = Span(trace_id="f" * 80, span_id=span_id(9), parent_span_id=None, name="x", start_ns=T0, end_ns=T0)
    mapped = events_from_spans([good, bad])
    assert len(mapped.rejected) == 1 and "trace_id" in mapped.rejected[0].reason
    assert {event.span_id for event in mapped.events} == {span_id(1)}


@pytest.mark.parametrize(
    ("name", "attributes", "category"),
    [
        ("chat x", {"gen_ai.operation.name": "chat"}, SpanCategory.LLM),
        ("x", {"gen_ai.operation.name": "call_llm"}, SpanCategory.LLM),
        ("x", {"gen_ai.operation.name": "invoke_agent"}, SpanCategory.AGENT),
        ("x", {"openinference.span.kind": "RETRIEVER"}, SpanCategory.TOOL),
        ("x", {"openinference.span.kind": "EMBEDDING"}, SpanCategory.LLM),
        ("x", {"openinference.span.kind": "PROMPT"}, SpanCategory.OTHER),
        ("x", {"traceloop.span.kind": "task"}, SpanCategory.CHAIN),
        ("x", {"llm.request.type": "completion"}, SpanCategory.LLM),
        ("x", {"gen_ai.request.model": "m"}, SpanCategory.LLM),
        ("invoke_agent y", {}, SpanCategory.AGENT),
        ("GET /", {"http.method": "GET"}, SpanCategory.OTHER),
    ],
)
def test_category_comes_from_the_strongest_signal(
    name: str, attributes: dict[str, Any], category: SpanCategory
) -> None:
    """Explicit kinds (OpenInference, GenAI operation, Traceloop) decide first, inferred ones after."""
    assert category_of(name, attributes) is category


def test_deprecated_gen_ai_content_events_supply_the_text() -> None:
    """Prompt and completion sent as span events (the older GenAI convention) become the events' content."""
    reading = read_span(
        "chat m",
        {"gen_ai.operation.name": "chat"},
        [
            SpanEvent("gen_ai.content.prompt", T0, {"gen_ai.prompt": "hello"}),
            SpanEvent("gen_ai.content.completion", T0, {"gen_ai.completion": "hi there"}),
        ],
    )
    assert (reading.input_text, reading.output_text) == ("hello", "hi there")


def test_framework_comes_from_the_scope_or_an_explicit_resource_attribute() -> None:
    """Instrumentation package prefixes and version suffixes are removed; escai.framework wins."""
    assert framework_of("openinference.instrumentation.llama_index", {}) == "llama_index"
    assert framework_of("opentelemetry.instrumentation.openai_v2", {}) == "openai"
    assert framework_of("agent_framework", {}) == "agent_framework"
    assert framework_of("anything", {"escai.framework": "crewai"}) == "crewai"
    assert framework_of(None, {}) is None
