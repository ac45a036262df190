"""Attribute names, defined once and imported everywhere.

ESCAI's own keys live under ``escai.*``. Where OpenTelemetry's GenAI semantic conventions
(https://opentelemetry.io/docs/specs/semconv/gen-ai/) or OpenInference already name a concept, ESCAI uses that
name unchanged, so that attributes read from OTLP spans and attributes written by ESCAI's own SDK are the same
keys in storage and in queries.
"""

from typing import Final

# --- OpenTelemetry GenAI conventions -------------------------------------------------------------------------
GEN_AI_SYSTEM: Final = "gen_ai.system"
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_AGENT_DESCRIPTION: Final = "gen_ai.agent.description"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"

# --- OpenInference ----------------------------------------------------------------------------------------------
OPENINFERENCE_SPAN_KIND: Final = "openinference.span.kind"
INPUT_VALUE: Final = "input.value"
OUTPUT_VALUE: Final = "output.value"
LLM_MODEL_NAME: Final = "llm.model_name"
LLM_TOKEN_COUNT_PROMPT: Final = "llm.token_count.prompt"  # noqa: S105 - an attribute name, not a secret
LLM_TOKEN_COUNT_COMPLETION: Final = "llm.token_count.completion"  # noqa: S105
TOOL_NAME: Final = "tool.name"
SESSION_ID: Final = "session.id"
MESSAGE_ROLE: Final = "message.role"
"""The chat role a message had in its source (system, user, assistant, tool)."""
PROCESS_EXIT_CODE: Final = "process.exit.code"
"""Exit code of an executed command (OpenTelemetry's process attribute)."""
SYSTEM_PROMPTS: Final = "escai.import.system_prompts"
"""System prompts that came with an imported run (agent name -> prompt), kept on its session_start event."""

# --- ESCAI ------------------------------------------------------------------------------------------------------
ESCAI_FRAMEWORK: Final = "escai.framework"
ESCAI_TASK: Final = "escai.task"
ESCAI_OUTCOME_SUCCESS: Final = "escai.outcome.success"
ESCAI_OUTCOME_SCORE: Final = "escai.outcome.score"
ESCAI_ERROR_TYPE: Final = "escai.error.type"
ESCAI_ERROR_MESSAGE: Final = "escai.error.message"
ESCAI_HANDOFF_TARGET: Final = "escai.handoff.target"
ESCAI_PII_MASKED: Final = "escai.pii.masked"
"""Counts of masked items by kind, added by the ingest pipeline when PII masking changed an event."""
ESCAI_ANNOTATIONS: Final = "escai.annotations"
"""Ground-truth labels that came with imported data; kept apart from anything ESCAI predicts."""
