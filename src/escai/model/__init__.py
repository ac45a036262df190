"""Domain records of ESCAI and the names of event kinds and attributes.

Nothing in this package imports any other part of ESCAI: every other layer depends on it.
"""

from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import (
    BehavioralPattern,
    Belief,
    CausalRelationship,
    EpistemicState,
    Explanation,
    FailureAttribution,
    FailureCandidate,
    Goal,
    GoalStatus,
    KnowledgeFact,
    MonitoringSession,
    Prediction,
    SessionStatus,
)

__all__ = [
    "AgentEvent",
    "BehavioralPattern",
    "Belief",
    "CausalRelationship",
    "EpistemicState",
    "EventStatus",
    "EventType",
    "Explanation",
    "FailureAttribution",
    "FailureCandidate",
    "Goal",
    "GoalStatus",
    "KnowledgeFact",
    "MonitoringSession",
    "Prediction",
    "SessionStatus",
]
