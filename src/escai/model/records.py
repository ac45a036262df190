"""Domain records besides the event: sessions and the results of analysis (ARCHITECTURE section 4).

All records are frozen pydantic models: they are values, passed between layers and serialised at the edges.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Probability = float  # documented alias: a value in [0, 1]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class SessionStatus(enum.StrEnum):
    """Lifecycle of a monitoring session."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"


class MonitoringSession(_Record):
    """One monitored run of one or more agents on one task."""

    id: str
    agent_id: str
    agent_ids: list[str] = Field(default_factory=list)
    framework: str | None = None
    task: str | None = None
    started_at: datetime
    ended_at: datetime | None = None
    status: SessionStatus = SessionStatus.RUNNING
    outcome_success: bool | None = None
    outcome_score: float | None = None
    summary: str | None = None
    event_count: int = 0
    annotations: dict[str, Any] = Field(default_factory=dict)
    """Ground-truth labels that came with imported data, never ESCAI's own predictions."""


class Belief(_Record):
    """A statement the agent holds about its world or task."""

    statement: str
    confidence: Probability = Field(ge=0, le=1)
    evidence_event_ids: list[str] = Field(default_factory=list)


class KnowledgeFact(_Record):
    """A fact established by a tool result or observation, as a (subject, relation, object) triple."""

    subject: str
    relation: str
    object: str
    source_event_id: str | None = None


class GoalStatus(enum.StrEnum):
    """Where a goal stands."""

    ACTIVE = "active"
    ACHIEVED = "achieved"
    ABANDONED = "abandoned"
    BLOCKED = "blocked"


class Goal(_Record):
    """Something the agent is trying to achieve."""

    description: str
    status: GoalStatus = GoalStatus.ACTIVE
    progress: Probability = Field(default=0.0, ge=0, le=1)


class EpistemicState(_Record):
    """What one agent believed, knew and wanted at one step of a session."""

    session_id: str
    agent_id: str
    step_index: int
    event_id: str | None = None
    timestamp: datetime
    beliefs: list[Belief] = Field(default_factory=list)
    knowledge: list[KnowledgeFact] = Field(default_factory=list)
    goals: list[Goal] = Field(default_factory=list)
    confidence: Probability = Field(ge=0, le=1)
    uncertainty: Probability = Field(ge=0, le=1)


class BehavioralPattern(_Record):
    """A frequent sequence of event kinds and how it relates to outcomes."""

    id: str
    sequence: list[str]
    support: int = Field(ge=0)
    success_rate: Probability | None = None
    lift_toward_failure: float | None = None
    p_value: float | None = None
    session_ids: list[str] = Field(default_factory=list)
    agent_id: str | None = None


class CausalRelationship(_Record):
    """A directed cause -> effect relationship found by one method."""

    cause: str
    effect: str
    strength: float
    confidence: Probability = Field(ge=0, le=1)
    method: str
    lag: int = 0
    session_id: str | None = None


class FailureCandidate(_Record):
    """One (agent, step) blamed for a failure, with the evidence."""

    agent_id: str
    step_index: int
    confidence: Probability = Field(ge=0, le=1)
    evidence_event_ids: list[str] = Field(default_factory=list)
    reason: str | None = None


class FailureAttribution(_Record):
    """Ranked candidates for which agent at which step caused a session to fail."""

    session_id: str
    method: str
    candidates: list[FailureCandidate]


class Prediction(_Record):
    """A forecast for a running or finished session at one step."""

    session_id: str
    agent_id: str
    step_index: int
    success_probability: Probability = Field(ge=0, le=1)
    failure_risk: Probability = Field(ge=0, le=1)
    remaining_steps: float | None = None
    remaining_seconds: float | None = None
    confidence: Probability = Field(ge=0, le=1)
    model_version: str


class ExplanationKind(enum.StrEnum):
    """What an explanation explains."""

    BEHAVIOUR = "behaviour"
    FAILURE = "failure"
    PREDICTION = "prediction"
    COMPARISON = "comparison"


class Explanation(_Record):
    """Text that explains a session, citing the events it rests on."""

    session_id: str
    kind: ExplanationKind
    text: str
    evidence_event_ids: list[str] = Field(default_factory=list)
    confidence: Probability = Field(ge=0, le=1)
