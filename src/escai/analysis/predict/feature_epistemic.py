"""The ``epistemic`` feature group: what the epistemic engine believes about the agent at the cut.

Each session's accumulator runs its own :class:`~escai.analysis.epistemic.tracker.EpistemicTracker` (the object the
live path uses, with the light embedder) one event at a time, so a live predictor keeps one tracker per session and
training reads exactly the states live analysis would have had. The tracker never sees the session_end event: the
feature extractor drops it before any group is fed.

Read from the latest state of the session's agents: the confidence signals (text certainty, action success, goal
progress, repetition, conflict, hedging, belief entropy, ...), confidence and uncertainty, and the task goal's
status and progress; counted over the whole prefix: belief revisions by kind, beliefs by where they were read, and
knowledge facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from escai.analysis.epistemic.timeline import EpistemicUpdate
from escai.analysis.epistemic.tracker import EpistemicTracker
from escai.analysis.predict.features import Evidence, register_feature_group
from escai.model.events import AgentEvent
from escai.model.records import BeliefSource, EpistemicState, GoalStatus, RevisionKind

SIGNAL_FEATURES: dict[str, str] = {
    "text_certainty": "certainty of the agent's wording (epistemic signal)",
    "action_success": "smoothed success of the agent's actions (epistemic signal)",
    "goal_progress": "progress toward the task goal (epistemic signal)",
    "repetition": "how much the agent repeats failed actions (epistemic signal)",
    "conflict": "share of belief revisions that contradicted or retracted (epistemic signal)",
    "hedge_rate": "hedged statements per statement (epistemic signal)",
    "belief_entropy": "how unsettled the recent beliefs are (epistemic signal)",
    "steps": "steps the epistemic engine scored",
    "failures": "failed actions the epistemic engine counted",
    "conflicting_revisions": "revisions that contradicted or retracted a belief",
    "revisions": "belief revisions of any kind",
}
"""The tracker's signal names (keys of ``EpistemicState.signals``) and what they mean."""

EPISTEMIC_FEATURES: dict[str, str] = {
    **{f"epi_{name}": meaning for name, meaning in SIGNAL_FEATURES.items()},
    "epi_confidence": "the agent's estimated confidence",
    "epi_uncertainty": "the agent's estimated uncertainty",
    **{f"epi_task_{status.value}": f"the task goal is {status.value}" for status in GoalStatus},
    "epi_task_progress": "progress recorded on the task goal",
    "epi_goals": "goals known (task, system prompt, plan steps)",
    "epi_goals_achieved": "goals achieved",
    **{f"epi_revised_{kind.value}": f"belief revisions that {kind.value} a belief" for kind in RevisionKind},
    **{
        f"epi_beliefs_{source.value}": f"beliefs read from {source.value.replace('_', ' ')}s" for source in BeliefSource
    },
    "epi_facts": "knowledge facts established",
}


class _EpistemicAccumulator:
    """Runs one tracker over one session's events and keeps the counts the states do not carry."""

    def __init__(self) -> None:
        self.tracker: EpistemicTracker | None = None
        self.state: EpistemicState | None = None
        self.revised = dict.fromkeys(RevisionKind, 0)
        self.beliefs_seen: dict[BeliefSource, set[str]] = {source: set() for source in BeliefSource}
        self.facts = 0
        self.proof = Evidence()

    def update(self, event: AgentEvent) -> None:
        if self.tracker is None:
            self.tracker = EpistemicTracker(event.session_id)
        self._take(event.id, self.tracker.observe(event))

    def _take(self, event_id: str, update: EpistemicUpdate) -> None:
        for revision in update.revisions:
            self.revised[revision.kind] += 1
            self.proof.add(f"epi_revised_{revision.kind.value}", event_id)
        if update.facts:
            self.facts += len(update.facts)
            self.proof.add("epi_facts", event_id)
        state = update.state
        if state is None:
            return
        self.state = state
        for belief in state.beliefs:
            self.beliefs_seen[belief.source].add(belief.statement)
        for name in ("epi_confidence", "epi_uncertainty", "epi_action_success", "epi_goal_progress"):
            self.proof.add(name, event_id)

    def values(self) -> dict[str, float]:
        values = dict.fromkeys(EPISTEMIC_FEATURES, 0.0)
        state = self.state
        if state is not None:
            for name in SIGNAL_FEATURES:
                values[f"epi_{name}"] = float(state.signals.get(name, 0.0))
            values["epi_confidence"] = state.confidence
            values["epi_uncertainty"] = state.uncertainty
            values["epi_goals"] = float(len(state.goals))
            values["epi_goals_achieved"] = float(sum(goal.status is GoalStatus.ACHIEVED for goal in state.goals))
            task = next((goal for goal in state.goals if goal.source == "task"), None)
            if task is not None:
                values[f"epi_task_{task.status.value}"] = 1.0
                values["epi_task_progress"] = task.progress
        for kind, count in self.revised.items():
            values[f"epi_revised_{kind.value}"] = float(count)
        for source, statements in self.beliefs_seen.items():
            values[f"epi_beliefs_{source.value}"] = float(len(statements))
        values["epi_facts"] = float(self.facts)
        return values

    def evidence(self) -> Mapping[str, Sequence[str]]:
        return self.proof.as_mapping()


class EpistemicGroup:
    """Confidence signals, goal status, revisions, beliefs and facts from the epistemic engine, at the cut."""

    name = "epistemic"
    descriptions: Mapping[str, str] = EPISTEMIC_FEATURES

    def start(self) -> _EpistemicAccumulator:
        """A fresh accumulator (with its own tracker, created on the session's first event)."""
        return _EpistemicAccumulator()


register_feature_group(EpistemicGroup.name, EpistemicGroup)
