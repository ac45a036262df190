"""The agent event: one thing an agent did or saw, as ESCAI stores it."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EventType(enum.StrEnum):
    """Kinds of agent events. The values are the wire and storage names."""

    SESSION_START = "session_start"
    SESSION_END = "session_end"
    AGENT_START = "agent_start"
    AGENT_END = "agent_end"
    LLM_REQUEST = "llm_request"
    LLM_RESPONSE = "llm_response"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    MESSAGE = "message"
    THOUGHT = "thought"
    PLAN = "plan"
    DECISION = "decision"
    OBSERVATION = "observation"
    HANDOFF = "handoff"
    MEMORY = "memory"
    ERROR = "error"
    CUSTOM = "custom"


class EventStatus(enum.StrEnum):
    """Outcome of the step an event describes."""

    OK = "ok"
    ERROR = "error"
    UNSET = "unset"


MAX_ID_LENGTH = 128
MAX_NAME_LENGTH = 256


def new_event_id() -> str:
    """Return a fresh, globally unique event id."""
    return uuid.uuid4().hex


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class AgentEvent(BaseModel):
    """One event of one agent in one monitoring session.

    Ids are opaque strings chosen by the producer (the SDK uses UUID hex), so the same event sent twice is
    recognised and stored once. ``timestamp`` is always an aware UTC datetime; a naive timestamp is read as UTC.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    id: str = Field(default_factory=new_event_id, min_length=1, max_length=MAX_ID_LENGTH)
    session_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    agent_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    agent_name: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)
    framework: str | None = Field(default=None, max_length=64)
    type: EventType
    name: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)
    timestamp: datetime = Field(default_factory=utc_now)
    parent_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    trace_id: str | None = Field(default=None, max_length=64)
    span_id: str | None = Field(default=None, max_length=32)
    step_index: int | None = Field(default=None, ge=0)
    content: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    tokens_input: int | None = Field(default=None, ge=0)
    tokens_output: int | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0)
    duration_ms: float | None = Field(default=None, ge=0)
    status: EventStatus = EventStatus.UNSET

    @field_validator("timestamp")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        # Producers in other languages often send naive ISO strings meaning UTC; store every instant in UTC.
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
