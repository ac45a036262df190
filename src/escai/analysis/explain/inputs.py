"""What the engine takes besides a session and its events: prediction drivers and one side of a comparison."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from escai.analysis.epistemic.timeline import EpistemicTimeline
from escai.model.events import AgentEvent
from escai.model.records import MonitoringSession


@dataclass(frozen=True, slots=True)
class PredictionDriver:
    """One feature that moved a prediction, with the events its value was read from."""

    feature: str
    """The feature's name in the predictor, e.g. ``tool_failures``."""
    contribution: float
    """Signed effect on the predicted chance of success (in the predictor's own unit, e.g. log-odds or SHAP value):
    positive pushes toward success, negative toward failure."""
    description: str
    """What the feature's value is, in words, e.g. ``12 failed bash commands``."""
    event_ids: Sequence[str] = field(default_factory=tuple)
    """The events the value was computed from; a driver without any known event is not cited."""


@dataclass(frozen=True, slots=True)
class SessionEvidence:
    """One side of a comparison: a session, its events and (when extracted) its epistemic timeline."""

    session: MonitoringSession
    events: Sequence[AgentEvent]
    timeline: EpistemicTimeline | None = None
