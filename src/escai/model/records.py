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


class BeliefSource(enum.StrEnum):
    """Where in the agent's output a belief was read."""

    ASSERTION = "assertion"
    """A plain statement in the agent's text."""
    VERDICT = "verdict"
    """A self-reported judgement: "verified", "the answer is", "TERMINATE", a ledger's satisfied flag."""
    FACT_SHEET = "fact_sheet"
    """A line of a facts section the agent wrote ("GIVEN OR VERIFIED FACTS", "EDUCATED GUESSES", ...)."""
    LEDGER = "ledger"
    """A field of a progress ledger (Magentic-One style: in a loop, progress being made, ...)."""
    PLAN = "plan"
    """An expectation stated in a plan."""


class Belief(_Record):
    """A statement the agent holds about its world or task."""

    statement: str
    confidence: Probability = Field(ge=0, le=1)
    evidence_event_ids: list[str] = Field(default_factory=list)
    source: BeliefSource = BeliefSource.ASSERTION
    step_index: int | None = None
    """The step at which the agent first stated it."""


class RevisionKind(enum.StrEnum):
    """How later evidence changed a belief."""

    REAFFIRMED = "reaffirmed"
    """Stated again, or supported by a result: confidence rises."""
    WEAKENED = "weakened"
    """A repeated failed attempt or a hedge on the same point: confidence falls."""
    CONTRADICTED = "contradicted"
    """A tool result or a later statement says the opposite."""
    RETRACTED = "retracted"
    """The agent itself withdrew it ("that was wrong", "actually ...")."""


class BeliefRevision(_Record):
    """A change of one belief's confidence caused by later evidence: a first-class record, stored and queryable."""

    session_id: str
    agent_id: str
    step_index: int
    statement: str
    kind: RevisionKind
    previous_confidence: Probability = Field(ge=0, le=1)
    new_confidence: Probability = Field(ge=0, le=1)
    reason: str
    evidence_event_ids: list[str] = Field(default_factory=list)
    """The event that stated the belief first, then the event that revised it."""
    timestamp: datetime


class KnowledgeFact(_Record):
    """A fact established by a tool result or observation, as a (subject, relation, object) triple."""

    subject: str
    relation: str
    object: str
    source_event_id: str | None = None
    subject_kind: str = "entity"
    """Entity type of the subject (file, person, id, url, number, ...), a knowledge-graph node label."""
    object_kind: str = "value"


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
    evidence_event_ids: list[str] = Field(default_factory=list)
    """The event that set the goal, then the events that last changed its status or progress."""
    source: str = "task"
    """Where it came from: task, system_prompt, plan or ledger."""


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
    method: str = "light"
    """The similarity method the extractor used: ``minilm`` or ``light`` (no ``nlp`` extra installed)."""
    signals: dict[str, float] = Field(default_factory=dict)
    """The components confidence and uncertainty were computed from (text certainty, action success, ...)."""


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


class ClaimType(enum.StrEnum):
    """What one explanation sentence claims; each type names the event kinds that can support it."""

    TASK = "task"
    """What the session set out to do (session_start, a user or system message)."""
    ACTION = "action"
    """What the agent did (tool_call, decision, handoff, message, llm_response)."""
    TOOL_FAILURE = "tool_failure"
    """A tool or command failed (tool_result or error with status error, or a non-zero exit code)."""
    TOOL_SUCCESS = "tool_success"
    """A tool or command succeeded (tool_result with status ok)."""
    BELIEF = "belief"
    """What the agent believed or how sure it was (the events its beliefs were read from)."""
    REVISION = "revision"
    """A belief was revised or contradicted (the stating and the revising event)."""
    GOAL = "goal"
    """A goal was set, achieved, blocked or abandoned."""
    REPETITION = "repetition"
    """The agent repeated an action (the repeated events)."""
    ERROR = "error"
    """An error event."""
    OUTCOME = "outcome"
    """How the session ended (session_end, the last events)."""
    PREDICTION = "prediction"
    """A forecast and the events whose features drove it."""
    ATTRIBUTION = "attribution"
    """Which agent at which step is blamed for a failure (the blamed step's events)."""
    COMPARISON = "comparison"
    """A difference between two sessions (events of both)."""


class ExplanationSentence(_Record):
    """One sentence of an explanation with the claim it makes and the events it rests on."""

    text: str
    claim: ClaimType
    evidence_event_ids: list[str] = Field(default_factory=list)


class Explanation(_Record):
    """Text that explains a session, citing the events it rests on."""

    session_id: str
    kind: ExplanationKind
    text: str
    evidence_event_ids: list[str] = Field(default_factory=list)
    confidence: Probability = Field(ge=0, le=1)
    sentences: list[ExplanationSentence] = Field(default_factory=list)
    """The text sentence by sentence; ``text`` is their concatenation and ``evidence_event_ids`` their union."""
    agent_id: str | None = None
    other_session_id: str | None = None
    """The second session of a comparison."""
    generator: str = "template"
    """``template``, or ``llm:<model>`` when an OpenAI-compatible endpoint wrote the wording."""
