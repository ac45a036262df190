"""Reading what a span means from its attributes, in the three dialects ESCAI accepts.

- **OpenTelemetry GenAI** (``gen_ai.*``): ``gen_ai.operation.name`` says what the span is; model, usage, messages,
  tool and agent attributes; also the deprecated names (``gen_ai.usage.prompt_tokens``, ``gen_ai.prompt``) and the
  non-standard ones any-agent writes (``gen_ai.output``, ``gen_ai.tool.args``, ``gen_ai.usage.*_cost``).
- **OpenInference** (Arize): ``openinference.span.kind``, ``llm.*``, ``input.value``/``output.value``, flattened
  ``llm.input_messages.{i}.message.*``, ``tool.*``, ``session.id``, ``agent.name``.
- **OpenLLMetry** (Traceloop): ``traceloop.span.kind``/``entity.*``/``association.properties.*`` on workflow, task,
  agent and tool spans; LLM spans in (older) ``gen_ai.*`` names with flattened ``gen_ai.prompt.{i}.*``.

A span may speak several dialects at once (OpenLLMetry LLM spans are mostly GenAI), so every field is read from
all of them in one order of precedence: GenAI first (the standard), then OpenInference, then OpenLLMetry.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from escai.ingest.otlp.spans import SpanEvent
from escai.model import semconv
from escai.model import semconv_otlp as otlp


class SpanCategory(enum.StrEnum):
    """What a span is, as far as ESCAI's event kinds go."""

    LLM = "llm"
    TOOL = "tool"
    AGENT = "agent"
    CHAIN = "chain"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class SpanSemantics:
    """The dialect-independent reading of one span."""

    category: SpanCategory
    request_model: str | None = None
    response_model: str | None = None
    provider: str | None = None
    tokens_input: int | None = None
    tokens_output: int | None = None
    cost: float | None = None
    finish_reasons: tuple[str, ...] = ()
    input_text: str | None = None
    input_attribute: str | None = None
    """The attribute whose value is ``input_text`` verbatim (None when the text was assembled)."""
    output_text: str | None = None
    output_attribute: str | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    agent_name: str | None = None
    """The agent the span names itself as, or for an agent span, the agent it runs."""
    entity_name: str | None = None
    """A workflow/chain name (OpenLLMetry ``traceloop.entity.name``)."""
    session_id: str | None = None

    @property
    def model(self) -> str | None:
        """The model that answered, else the one asked for."""
        return self.response_model or self.request_model


# Where each category's input and output text is read from, in order. A key ending in "." is the prefix of
# flattened messages (gathered into one JSON list); _SPAN_EVENTS stands for the deprecated GenAI content events.
_SPAN_EVENTS = "<span events>"
_LLM_INPUT_SOURCES = (
    otlp.GEN_AI_INPUT_MESSAGES,
    otlp.GEN_AI_PROMPT,
    otlp.LLM_INPUT_MESSAGES_PREFIX,
    otlp.GEN_AI_PROMPT_PREFIX,
    _SPAN_EVENTS,
    semconv.INPUT_VALUE,
    otlp.TRACELOOP_ENTITY_INPUT,
)
_LLM_OUTPUT_SOURCES = (
    otlp.GEN_AI_OUTPUT_MESSAGES,
    otlp.GEN_AI_COMPLETION,
    otlp.GEN_AI_OUTPUT,
    otlp.LLM_OUTPUT_MESSAGES_PREFIX,
    otlp.GEN_AI_COMPLETION_PREFIX,
    _SPAN_EVENTS,
    semconv.OUTPUT_VALUE,
    otlp.TRACELOOP_ENTITY_OUTPUT,
)
_TOOL_INPUT_SOURCES = (
    otlp.GEN_AI_TOOL_CALL_ARGUMENTS,
    otlp.GEN_AI_TOOL_ARGS,
    semconv.INPUT_VALUE,
    otlp.TRACELOOP_ENTITY_INPUT,
)
_TOOL_OUTPUT_SOURCES = (
    otlp.GEN_AI_TOOL_CALL_RESULT,
    otlp.GEN_AI_OUTPUT,
    semconv.OUTPUT_VALUE,
    otlp.TRACELOOP_ENTITY_OUTPUT,
)
_OTHER_INPUT_SOURCES = (semconv.INPUT_VALUE, otlp.TRACELOOP_ENTITY_INPUT, otlp.GEN_AI_INPUT_MESSAGES, _SPAN_EVENTS)
_OTHER_OUTPUT_SOURCES = (
    semconv.OUTPUT_VALUE,
    otlp.TRACELOOP_ENTITY_OUTPUT,
    otlp.GEN_AI_OUTPUT_MESSAGES,
    otlp.GEN_AI_OUTPUT,
    _SPAN_EVENTS,
)
_SOURCES = {
    SpanCategory.LLM: (_LLM_INPUT_SOURCES, _LLM_OUTPUT_SOURCES),
    SpanCategory.TOOL: (_TOOL_INPUT_SOURCES, _TOOL_OUTPUT_SOURCES),
}
_SESSION_KEYS = (semconv.SESSION_ID, semconv.GEN_AI_CONVERSATION_ID, otlp.TRACELOOP_SESSION_ID)
_REQUEST_MODEL_KEYS = (
    semconv.GEN_AI_REQUEST_MODEL,
    otlp.LLM_REQUEST_MODEL_NAME,
    semconv.LLM_MODEL_NAME,
    otlp.EMBEDDING_MODEL_NAME,
)
_RESPONSE_MODEL_KEYS = (semconv.GEN_AI_RESPONSE_MODEL, otlp.LLM_RESPONSE_MODEL_NAME)
_PROVIDER_KEYS = (otlp.GEN_AI_PROVIDER_NAME, semconv.GEN_AI_SYSTEM, otlp.LLM_PROVIDER, otlp.LLM_SYSTEM)
_INPUT_TOKEN_KEYS = (semconv.GEN_AI_USAGE_INPUT_TOKENS, otlp.GEN_AI_USAGE_PROMPT_TOKENS, semconv.LLM_TOKEN_COUNT_PROMPT)
_OUTPUT_TOKEN_KEYS = (
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    otlp.GEN_AI_USAGE_COMPLETION_TOKENS,
    semconv.LLM_TOKEN_COUNT_COMPLETION,
)
_COST_KEYS = frozenset(
    {
        otlp.LLM_COST_TOTAL,
        otlp.GEN_AI_USAGE_COST,
        otlp.LLM_COST_PROMPT,
        otlp.LLM_COST_COMPLETION,
        otlp.GEN_AI_USAGE_INPUT_COST,
        otlp.GEN_AI_USAGE_OUTPUT_COST,
    }
)
_TOOL_NAME_KEYS = (semconv.GEN_AI_TOOL_NAME, semconv.TOOL_NAME)
_TOOL_CALL_ID_KEYS = (semconv.GEN_AI_TOOL_CALL_ID, otlp.TOOL_CALL_ID, otlp.TOOL_ID)
_AGENT_NAME_KEYS = (semconv.GEN_AI_AGENT_NAME, otlp.AGENT_NAME)
_ENTITY_NAME_KEYS = (otlp.TRACELOOP_ENTITY_NAME, otlp.TRACELOOP_WORKFLOW_NAME)
# Deprecated GenAI content events carry the prompt and completion as event attributes.
_CONTENT_EVENTS = {
    otlp.GEN_AI_CONTENT_PROMPT_EVENT: (otlp.GEN_AI_PROMPT, "input"),
    otlp.GEN_AI_CONTENT_COMPLETION_EVENT: (otlp.GEN_AI_COMPLETION, "output"),
}


def category_of(name: str, attributes: Mapping[str, Any]) -> SpanCategory:
    """The span's category from the strongest signal present (explicit kinds before inferred ones)."""
    kind = attributes.get(semconv.OPENINFERENCE_SPAN_KIND)
    if isinstance(kind, str) and kind:
        kind = kind.upper()
        if kind in (otlp.OPENINFERENCE_KIND_LLM, otlp.OPENINFERENCE_KIND_EMBEDDING):
            return SpanCategory.LLM
        if kind == otlp.OPENINFERENCE_KIND_TOOL or kind in otlp.OPENINFERENCE_KINDS_TOOL_LIKE:
            return SpanCategory.TOOL
        if kind == otlp.OPENINFERENCE_KIND_AGENT:
            return SpanCategory.AGENT
        if kind == otlp.OPENINFERENCE_KIND_CHAIN:
            return SpanCategory.CHAIN
        return SpanCategory.OTHER
    operation = attributes.get(semconv.GEN_AI_OPERATION_NAME)
    if isinstance(operation, str) and operation:
        operation = operation.lower()
        if operation in otlp.GEN_AI_OPERATIONS_LLM:
            return SpanCategory.LLM
        if operation in otlp.GEN_AI_OPERATIONS_TOOL:
            return SpanCategory.TOOL
        if operation in otlp.GEN_AI_OPERATIONS_AGENT:
            return SpanCategory.AGENT
        if operation in otlp.GEN_AI_OPERATIONS_CHAIN:
            return SpanCategory.CHAIN
    traceloop_kind = attributes.get(otlp.TRACELOOP_SPAN_KIND)
    if isinstance(traceloop_kind, str) and traceloop_kind:
        traceloop_kind = traceloop_kind.lower()
        if traceloop_kind == otlp.TRACELOOP_KIND_AGENT:
            return SpanCategory.AGENT
        if traceloop_kind == otlp.TRACELOOP_KIND_TOOL:
            return SpanCategory.TOOL
        if traceloop_kind in otlp.TRACELOOP_KINDS_CHAIN:
            return SpanCategory.CHAIN
    if otlp.LLM_REQUEST_TYPE in attributes:
        return SpanCategory.LLM
    # No explicit kind: infer from what the span describes (a model, a tool, an agent).
    if any(
        key in attributes
        for key in (
            semconv.GEN_AI_REQUEST_MODEL,
            semconv.GEN_AI_SYSTEM,
            otlp.GEN_AI_PROVIDER_NAME,
            semconv.LLM_MODEL_NAME,
        )
    ):
        return SpanCategory.LLM
    if (
        semconv.GEN_AI_TOOL_NAME in attributes
        or semconv.TOOL_NAME in attributes
        or name.startswith(otlp.GEN_AI_OPERATION_EXECUTE_TOOL)
    ):
        return SpanCategory.TOOL
    if semconv.GEN_AI_AGENT_NAME in attributes or name.startswith(otlp.GEN_AI_OPERATION_INVOKE_AGENT):
        return SpanCategory.AGENT
    return SpanCategory.OTHER


def read_span(name: str, attributes: Mapping[str, Any], events: Sequence[SpanEvent] = ()) -> SpanSemantics:
    """Read a span's meaning from its name, attributes and events, whatever dialect they are in."""
    category = category_of(name, attributes)
    input_sources, output_sources = _SOURCES.get(category, (_OTHER_INPUT_SOURCES, _OTHER_OUTPUT_SOURCES))
    event_input, event_output = _content_from_events(events) if events else (None, None)
    input_text, input_attribute = _read_text(attributes, input_sources, event_input)
    output_text, output_attribute = _read_text(attributes, output_sources, event_output)
    if category is not SpanCategory.LLM:
        return SpanSemantics(
            category=category,
            tokens_input=_first_count(attributes, _INPUT_TOKEN_KEYS),
            tokens_output=_first_count(attributes, _OUTPUT_TOKEN_KEYS),
            cost=_cost(attributes),
            input_text=input_text,
            input_attribute=input_attribute,
            output_text=output_text,
            output_attribute=output_attribute,
            tool_name=_tool_name(name, category, attributes),
            tool_call_id=_first_str(attributes, _TOOL_CALL_ID_KEYS),
            agent_name=_agent_name(name, category, attributes),
            entity_name=_first_str(attributes, _ENTITY_NAME_KEYS),
            session_id=_first_str(attributes, _SESSION_KEYS),
        )
    return SpanSemantics(
        category=category,
        request_model=_first_str(attributes, _REQUEST_MODEL_KEYS),
        response_model=_first_str(attributes, _RESPONSE_MODEL_KEYS),
        provider=_first_str(attributes, _PROVIDER_KEYS),
        tokens_input=_first_count(attributes, _INPUT_TOKEN_KEYS),
        tokens_output=_first_count(attributes, _OUTPUT_TOKEN_KEYS),
        cost=_cost(attributes),
        finish_reasons=_finish_reasons(attributes),
        input_text=input_text,
        input_attribute=input_attribute,
        output_text=output_text,
        output_attribute=output_attribute,
        tool_name=_first_str(attributes, _TOOL_NAME_KEYS),
        agent_name=_first_str(attributes, _AGENT_NAME_KEYS),
        session_id=_first_str(attributes, _SESSION_KEYS),
    )


def framework_of(scope_name: str | None, resource: Mapping[str, Any]) -> str | None:
    """The agent framework a span came from: an explicit ``escai.framework`` resource attribute, else the
    instrumentation scope with the instrumentation-package prefix removed
    (``openinference.instrumentation.langchain`` -> ``langchain``)."""
    declared = resource.get(semconv.ESCAI_FRAMEWORK)
    if isinstance(declared, str) and declared:
        return declared[:64]
    if not scope_name:
        return None
    name = scope_name.strip().lower()
    for prefix in ("openinference.instrumentation.", "opentelemetry.instrumentation.", "opentelemetry.contrib."):
        if name.startswith(prefix):
            name = name[len(prefix) :].split(".", 1)[0]
            break
    # opentelemetry-instrumentation-openai-v2 and friends: the version suffix is not part of the framework.
    for suffix in ("_v2", "-v2"):
        name = name.removesuffix(suffix)
    return name[:64] or None


def _first_str(attributes: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
        if value is not None and not isinstance(value, str):
            return str(value)
    return None


def as_text(value: Any) -> str | None:
    """An attribute value as text: strings as they are, anything else as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    return orjson.dumps(value, default=str).decode()


def _read_text(
    attributes: Mapping[str, Any], sources: Sequence[str], event_text: str | None
) -> tuple[str | None, str | None]:
    """The first text found in ``sources``, and the attribute it is verbatim (None when assembled)."""
    for source in sources:
        if source == _SPAN_EVENTS:
            if event_text:
                return event_text, None
        elif source.endswith("."):
            flattened = _flattened_messages(attributes, source)
            if flattened:
                return flattened, None
        else:
            text = as_text(attributes.get(source))
            if text:
                return text, source
    return None, None


def as_count(value: Any) -> int | None:
    """A token count: a non-negative integer, also when sent as a float or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _first_count(attributes: Mapping[str, Any], keys: Iterable[str]) -> int | None:
    for key in keys:
        count = as_count(attributes.get(key))
        if count is not None:
            return count
    return None


def _as_amount(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value >= 0:
        return float(value)
    if isinstance(value, str):
        try:
            amount = float(value)
        except ValueError:
            return None
        return amount if amount >= 0 else None
    return None


def _cost(attributes: Mapping[str, Any]) -> float | None:
    if _COST_KEYS.isdisjoint(attributes):
        return None
    for total_key in (otlp.LLM_COST_TOTAL, otlp.GEN_AI_USAGE_COST):
        total = _as_amount(attributes.get(total_key))
        if total is not None:
            return total
    for prompt_key, completion_key in (
        (otlp.LLM_COST_PROMPT, otlp.LLM_COST_COMPLETION),
        (otlp.GEN_AI_USAGE_INPUT_COST, otlp.GEN_AI_USAGE_OUTPUT_COST),
    ):
        parts = [_as_amount(attributes.get(prompt_key)), _as_amount(attributes.get(completion_key))]
        if any(part is not None for part in parts):
            return sum(part for part in parts if part is not None)
    return None


def _finish_reasons(attributes: Mapping[str, Any]) -> tuple[str, ...]:
    value = attributes.get(semconv.GEN_AI_RESPONSE_FINISH_REASONS)
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    if isinstance(value, str) and value:
        return (value,)
    for key in (otlp.LLM_FINISH_REASON, otlp.LLM_RESPONSE_FINISH_REASON):
        single = attributes.get(key)
        if isinstance(single, str) and single:
            return (single,)
    # OpenLLMetry: gen_ai.completion.{i}.finish_reason; GenAI: finish_reason inside gen_ai.output.messages.
    flattened = sorted(
        (key, item)
        for key, item in attributes.items()
        if key.startswith(otlp.GEN_AI_COMPLETION_PREFIX) and key.endswith(".finish_reason") and isinstance(item, str)
    )
    if flattened:
        return tuple(item for _, item in flattened)
    messages = attributes.get(otlp.GEN_AI_OUTPUT_MESSAGES)
    if isinstance(messages, str) and "finish_reason" in messages:
        try:
            messages = orjson.loads(messages)
        except orjson.JSONDecodeError:
            return ()
    if isinstance(messages, list):
        return tuple(
            str(message["finish_reason"])
            for message in messages
            if isinstance(message, dict) and message.get("finish_reason")
        )
    return ()


def _tool_name(name: str, category: SpanCategory, attributes: Mapping[str, Any]) -> str | None:
    explicit = _first_str(attributes, _TOOL_NAME_KEYS)
    if explicit or category is not SpanCategory.TOOL:
        return explicit
    entity = _first_str(attributes, (otlp.TRACELOOP_ENTITY_NAME,))
    if entity:
        return entity
    # GenAI span names are "execute_tool {tool name}".
    return name.removeprefix(otlp.GEN_AI_OPERATION_EXECUTE_TOOL).strip() or name or None


def _agent_name(name: str, category: SpanCategory, attributes: Mapping[str, Any]) -> str | None:
    explicit = _first_str(attributes, _AGENT_NAME_KEYS)
    if explicit or category is not SpanCategory.AGENT:
        return explicit
    entity = _first_str(attributes, (otlp.TRACELOOP_ENTITY_NAME, semconv.GEN_AI_AGENT_ID))
    if entity:
        return entity
    # GenAI span names are "invoke_agent {agent name}".
    return name.removeprefix(otlp.GEN_AI_OPERATION_INVOKE_AGENT).strip() or name or None


def _flattened_messages(attributes: Mapping[str, Any], prefix: str) -> str | None:
    """Messages spread over indexed keys (``llm.input_messages.0.message.role``, ``gen_ai.prompt.0.content``)
    gathered into one JSON list of ``{role, content, ...}`` objects."""
    messages: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if not key.startswith(prefix):
            continue
        index_text, _, rest = key[len(prefix) :].partition(".")
        if not index_text.isdigit() or not rest:
            continue
        messages.setdefault(int(index_text), {})[rest.removeprefix("message.")] = value
    if not messages:
        return None
    return orjson.dumps([messages[index] for index in sorted(messages)]).decode()


def _content_from_events(events: Sequence[SpanEvent]) -> tuple[str | None, str | None]:
    found: dict[str, str] = {}
    for event in events:
        spec = _CONTENT_EVENTS.get(event.name)
        if spec is not None:
            text = as_text(event.attributes.get(spec[0]))
            if text:
                found.setdefault(spec[1], text)
    return found.get("input"), found.get("output")
