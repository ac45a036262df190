"""Request and response bodies of the REST API (the edge where pydantic validates)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from escai.model.events import AgentEvent
from escai.model.records import MonitoringSession


class IngestRequest(BaseModel):
    """A batch of events. A bare JSON array of events is accepted too."""

    events: list[AgentEvent]


class RejectedEvent(BaseModel):
    """An event that was refused, and why."""

    index: int = Field(description="Position of the event in the request.")
    id: str | None = Field(description="The event's id, when it had a readable one.")
    reason: str


class IngestResponse(BaseModel):
    """What happened to a batch. Answered only after the accepted events are committed."""

    accepted: int = Field(description="New events stored.")
    duplicates: int = Field(description="Events whose id was already stored; acknowledged, not stored again.")
    filtered: int = Field(description="Events dropped on purpose by a configured filter.")
    rejected: list[RejectedEvent] = Field(description="Refused events, kept in the dead-letter table.")


class ErrorResponse(BaseModel):
    """An error with a reason a person can act on."""

    detail: str


class EventPageResponse(BaseModel):
    """A page of events; pass ``next_cursor`` as ``cursor`` for the next page."""

    events: list[AgentEvent]
    next_cursor: int | None


class SessionPageResponse(BaseModel):
    """A page of sessions, newest first."""

    sessions: list[MonitoringSession]
    total: int
    limit: int
    offset: int


class HealthResponse(BaseModel):
    """Liveness or readiness, with the checks behind it."""

    status: str
    checks: dict[str, str] = Field(default_factory=dict)
    version: str
