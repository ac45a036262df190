"""The ``behaviour`` feature group: the behaviour engine's session features and loops, on the prefix only.

:func:`escai.analysis.behaviour.session_features` and :func:`~escai.analysis.behaviour.loops.detect_loops` work on
a whole step sequence, so the accumulator keeps the steps seen so far and recomputes when asked for values after
new steps (the extractor asks at cuts only; a live predictor asks once per step). The session start is not passed
on (its attributes hold imported labels) and the session_end never arrives (the extractor drops it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from escai.analysis.behaviour.features import SESSION_FEATURES, features_of_sequence
from escai.analysis.behaviour.loops import detect_loops
from escai.analysis.behaviour.sequences import abstract_session
from escai.analysis.predict.features import BOUNDARY_EVENT_TYPES, EVIDENCE_KEPT, register_feature_group
from escai.model.events import AgentEvent

LOOP_FEATURES: dict[str, str] = {
    "loops": "loops (an action or a cycle of actions repeated back to back)",
    "exact_loops": "loops of literally identical actions",
    "loop_repetitions": "most repetitions of one loop",
    "loop_errors": "failing steps inside loops",
    "open_loop": "the latest step is inside a loop",
}
BEHAVIOUR_FEATURES: dict[str, str] = {
    **{f"beh_{name}": meaning for name, meaning in SESSION_FEATURES.items()},
    **{f"beh_{name}": meaning for name, meaning in LOOP_FEATURES.items()},
}


class _BehaviourAccumulator:
    def __init__(self) -> None:
        self.events: list[AgentEvent] = []
        self.cached: dict[str, float] | None = None
        self.proof: dict[str, Sequence[str]] = {}

    def update(self, event: AgentEvent) -> None:
        if event.type in BOUNDARY_EVENT_TYPES:
            return
        self.events.append(event)
        self.cached = None

    def values(self) -> dict[str, float]:
        if self.cached is None:
            self.cached = self._compute()
        return dict(self.cached)

    def _compute(self) -> dict[str, float]:
        sequence = abstract_session(self.events)
        values = {f"beh_{name}": value for name, value in features_of_sequence(sequence, self.events).items()}
        loops = detect_loops(sequence.steps)
        last = len(sequence.steps) - 1
        values["beh_loops"] = float(len(loops))
        values["beh_exact_loops"] = float(sum(loop.exact for loop in loops))
        values["beh_loop_repetitions"] = float(max((loop.repetitions for loop in loops), default=0))
        values["beh_loop_errors"] = float(sum(loop.errors for loop in loops))
        values["beh_open_loop"] = float(any(loop.start + loop.length - 1 == last for loop in loops))
        if loops:
            self.proof = {"beh_loops": tuple(loops[-1].event_ids[-EVIDENCE_KEPT:])}
            self.proof["beh_loop_share"] = self.proof["beh_loops"]
        return values

    def evidence(self) -> Mapping[str, Sequence[str]]:
        if self.cached is None:
            self.values()
        return dict(self.proof)


class BehaviourGroup:
    """Session features and loops of the behaviour engine, over the steps so far."""

    name = "behaviour"
    descriptions: Mapping[str, str] = BEHAVIOUR_FEATURES

    def start(self) -> _BehaviourAccumulator:
        """A fresh accumulator."""
        return _BehaviourAccumulator()


register_feature_group(BehaviourGroup.name, BehaviourGroup)
