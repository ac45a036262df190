"""Domain records of ESCAI and the names of event kinds and attributes.

Nothing in this package imports any other part of ESCAI: every other layer depends on it.
"""

from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import (
    BehavioralPattern,
    Belief,
    BeliefRevision,
    BeliefSource,
    CausalRelationship,
    ClaimType,
    EpistemicState,
    Explanation,
    ExplanationKind,
    ExplanationSentence,
    FailureAttribution,
    FailureCandidate,
    Goal,
    GoalStatus,
    KnowledgeFact,
    MonitoringSession,
    Prediction,
    RevisionKind,
    SessionStatus,
)

__all__ = [
    "AgentEvent",
    "BehavioralPattern",
    "Belief",
    "BeliefRevision",
    "BeliefSource",
    "CausalRelationship",
    "ClaimType",
    "EpistemicState",
    "EventStatus",
    "EventType",
    "Explanation",
    "ExplanationKind",
    "ExplanationSentence",
    "FailureAttribution",
    "FailureCandidate",
    "Goal",
    "GoalStatus",
    "KnowledgeFact",
    "MonitoringSession",
    "Prediction",
    "RevisionKind",
    "SessionStatus",
]
