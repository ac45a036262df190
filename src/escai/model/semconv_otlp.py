"""Attribute names read from OTLP spans, for the three dialects ESCAI normalises, and the keys ESCAI adds.

The core GenAI and OpenInference names that ESCAI also writes itself live in :mod:`escai.model.semconv`; this
module holds the rest of what the OTLP intake reads: further OpenTelemetry GenAI names (current and deprecated),
OpenInference names, OpenLLMetry (Traceloop) names, generic OpenTelemetry names, and the ``escai.otel.*`` keys
under which ESCAI keeps span facts that have no column of their own.

Sources: https://opentelemetry.io/docs/specs/semconv/gen-ai/ , OpenInference ``semconv/trace``, OpenLLMetry
``opentelemetry-semantic-conventions-ai``, and mozilla-ai any-agent ``tracing/span_attrs.py`` (which writes a few
non-standard ``gen_ai.*`` names seen in real traces).
"""

from typing import Final

# --- OpenTelemetry GenAI (beyond escai.model.semconv) ----------------------------------------------------------
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
GEN_AI_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
GEN_AI_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"
GEN_AI_PROMPT: Final = "gen_ai.prompt"
"""Deprecated whole-prompt attribute; OpenLLMetry also writes the flattened ``gen_ai.prompt.{i}.content``."""
GEN_AI_COMPLETION: Final = "gen_ai.completion"
"""Deprecated whole-completion attribute; OpenLLMetry also writes ``gen_ai.completion.{i}.content``."""
GEN_AI_CONTENT_PROMPT_EVENT: Final = "gen_ai.content.prompt"
"""Deprecated span event carrying ``gen_ai.prompt``."""
GEN_AI_CONTENT_COMPLETION_EVENT: Final = "gen_ai.content.completion"
"""Deprecated span event carrying ``gen_ai.completion``."""
GEN_AI_PROMPT_PREFIX: Final = "gen_ai.prompt."
GEN_AI_COMPLETION_PREFIX: Final = "gen_ai.completion."

# Non-standard gen_ai.* names written by any-agent.
GEN_AI_OUTPUT: Final = "gen_ai.output"
GEN_AI_TOOL_ARGS: Final = "gen_ai.tool.args"
GEN_AI_USAGE_INPUT_COST: Final = "gen_ai.usage.input_cost"
GEN_AI_USAGE_OUTPUT_COST: Final = "gen_ai.usage.output_cost"
GEN_AI_USAGE_COST: Final = "gen_ai.usage.cost"

# Values of gen_ai.operation.name (GenAI span names are "{operation} {target}", e.g. "execute_tool get_weather").
GEN_AI_OPERATION_EXECUTE_TOOL: Final = "execute_tool"
GEN_AI_OPERATION_INVOKE_AGENT: Final = "invoke_agent"
GEN_AI_OPERATIONS_LLM: Final = frozenset(
    {"chat", "text_completion", "generate_content", "embeddings", "completion", "call_llm", "generate"}
)
GEN_AI_OPERATIONS_TOOL: Final = frozenset({GEN_AI_OPERATION_EXECUTE_TOOL})
GEN_AI_OPERATIONS_AGENT: Final = frozenset({GEN_AI_OPERATION_INVOKE_AGENT, "create_agent"})
GEN_AI_OPERATIONS_CHAIN: Final = frozenset({"invoke_workflow"})

# --- OpenInference (beyond escai.model.semconv) ----------------------------------------------------------------
LLM_PROVIDER: Final = "llm.provider"
LLM_SYSTEM: Final = "llm.system"
LLM_REQUEST_MODEL_NAME: Final = "llm.request.model_name"
LLM_RESPONSE_MODEL_NAME: Final = "llm.response.model_name"
LLM_TOKEN_COUNT_TOTAL: Final = "llm.token_count.total"  # noqa: S105
LLM_COST_TOTAL: Final = "llm.cost.total"
LLM_COST_PROMPT: Final = "llm.cost.prompt"
LLM_COST_COMPLETION: Final = "llm.cost.completion"
LLM_FINISH_REASON: Final = "llm.finish_reason"
LLM_INVOCATION_PARAMETERS: Final = "llm.invocation_parameters"
LLM_INPUT_MESSAGES_PREFIX: Final = "llm.input_messages."
LLM_OUTPUT_MESSAGES_PREFIX: Final = "llm.output_messages."
EMBEDDING_MODEL_NAME: Final = "embedding.model_name"
TOOL_DESCRIPTION: Final = "tool.description"
TOOL_PARAMETERS: Final = "tool.parameters"
TOOL_ID: Final = "tool.id"
TOOL_CALL_ID: Final = "tool_call.id"
AGENT_NAME: Final = "agent.name"
USER_ID: Final = "user.id"

# Values of openinference.span.kind.
OPENINFERENCE_KIND_LLM: Final = "LLM"
OPENINFERENCE_KIND_EMBEDDING: Final = "EMBEDDING"
OPENINFERENCE_KIND_TOOL: Final = "TOOL"
OPENINFERENCE_KIND_AGENT: Final = "AGENT"
OPENINFERENCE_KIND_CHAIN: Final = "CHAIN"
OPENINFERENCE_KINDS_TOOL_LIKE: Final = frozenset({"RETRIEVER", "RERANKER", "GUARDRAIL", "EVALUATOR"})
"""Kinds that act on the world or judge a result like a tool does; ESCAI stores them as tool calls."""

# --- OpenLLMetry (Traceloop) -----------------------------------------------------------------------------------
TRACELOOP_SPAN_KIND: Final = "traceloop.span.kind"
TRACELOOP_ENTITY_NAME: Final = "traceloop.entity.name"
TRACELOOP_ENTITY_INPUT: Final = "traceloop.entity.input"
TRACELOOP_ENTITY_OUTPUT: Final = "traceloop.entity.output"
TRACELOOP_WORKFLOW_NAME: Final = "traceloop.workflow.name"
TRACELOOP_PREFIX: Final = "traceloop."
TRACELOOP_SESSION_ID: Final = "traceloop.association.properties.session_id"
LLM_REQUEST_TYPE: Final = "llm.request.type"
LLM_USAGE_TOTAL_TOKENS: Final = "llm.usage.total_tokens"
LLM_RESPONSE_FINISH_REASON: Final = "llm.response.finish_reason"

# Values of traceloop.span.kind.
TRACELOOP_KIND_AGENT: Final = "agent"
TRACELOOP_KIND_TOOL: Final = "tool"
TRACELOOP_KINDS_CHAIN: Final = frozenset({"workflow", "task"})

# --- OpenTelemetry, general ------------------------------------------------------------------------------------
SERVICE_NAME: Final = "service.name"
OTEL_SCOPE_NAME: Final = "otel.scope.name"
OTEL_SCOPE_VERSION: Final = "otel.scope.version"
OTEL_STATUS_DESCRIPTION: Final = "otel.status_description"
EXCEPTION_EVENT_NAME: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"
DEFAULT_SERVICE_NAME: Final = "unknown_service"
"""What the OpenTelemetry SDK reports when the application named no service."""

# --- ESCAI keys for span facts without a column ----------------------------------------------------------------
ESCAI_OTEL_SPAN_NAME: Final = "escai.otel.span.name"
ESCAI_OTEL_SPAN_KIND: Final = "escai.otel.span.kind"
"""The OpenTelemetry span kind (internal, client, server, producer, consumer)."""
ESCAI_OTEL_CATEGORY: Final = "escai.otel.category"
"""What ESCAI read the span as: llm, tool, agent, chain or other."""
ESCAI_OTEL_PARENT_SPAN_ID: Final = "escai.otel.parent_span_id"
"""The span's parent as sent, kept when ESCAI attached the span elsewhere (its parent is not in the trace)."""
ESCAI_OTEL_RESOURCE: Final = "escai.otel.resource"
ESCAI_OTEL_EVENTS: Final = "escai.otel.events"
"""Span events other than exceptions (which become error events), as a list of {name, time, attributes}."""
ESCAI_OTEL_LINKS: Final = "escai.otel.links"
ESCAI_OTEL_CONTENT_ATTRIBUTE: Final = "escai.otel.content_attribute"
"""The span attribute whose value is the event's content verbatim; it is not repeated among the attributes."""
