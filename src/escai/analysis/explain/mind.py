"""The informative facts of an epistemic timeline: revisions, contradictions, goals and the confidence trajectory."""

from __future__ import annotations

from dataclasses import dataclass

from escai.analysis.epistemic.timeline import EpistemicTimeline
from escai.model.records import BeliefRevision, EpistemicState, Goal, GoalStatus, RevisionKind

COLLAPSE_DROP = 0.3
"""A fall of confidence at least this large (from a peak to a later low) counts as a collapse."""
COLLAPSE_FLOOR = 0.25
"""Confidence ending at or below this counts as a collapse whatever came before."""
CONTRADICTION_KINDS = frozenset({RevisionKind.CONTRADICTED, RevisionKind.RETRACTED})


@dataclass(frozen=True, slots=True)
class ConfidencePath:
    """Where the timeline's confidence started, bottomed out and ended, and its largest fall."""

    start: EpistemicState
    lowest: EpistemicState
    end: EpistemicState
    drop_from: EpistemicState
    """The peak before the largest fall (``start`` when confidence never fell)."""
    drop_to: EpistemicState
    """The low after the largest fall."""

    @property
    def largest_drop(self) -> float:
        """How far confidence fell from a peak to a later low."""
        return max(0.0, self.drop_from.confidence - self.drop_to.confidence)

    @property
    def collapsed(self) -> bool:
        """Confidence fell by :data:`COLLAPSE_DROP` or more, or ended at :data:`COLLAPSE_FLOOR` or below."""
        return self.largest_drop >= COLLAPSE_DROP or self.end.confidence <= COLLAPSE_FLOOR


@dataclass(frozen=True, slots=True)
class MindFacts:
    """What a timeline says, ready for the templates."""

    revisions: tuple[BeliefRevision, ...]
    contradictions: tuple[BeliefRevision, ...]
    """Revisions where a belief was contradicted or retracted."""
    goals: tuple[Goal, ...]
    """Each goal at its last known status (per agent and description)."""
    confidence: ConfidencePath | None
    belief_count: int
    """Distinct beliefs the timeline recorded."""

    def goals_with(self, *statuses: GoalStatus) -> list[Goal]:
        """The goals whose last status is one of ``statuses``."""
        return [goal for goal in self.goals if goal.status in statuses]


def _confidence_path(states: list[EpistemicState]) -> ConfidencePath | None:
    # Only states tied to an event can be cited, so the trajectory is drawn through those.
    cited = [state for state in states if state.event_id is not None]
    if not cited:
        return None
    lowest = min(cited, key=lambda state: state.confidence)
    peak = drop_from = drop_to = cited[0]
    for state in cited[1:]:
        if state.confidence > peak.confidence:
            peak = state
        elif peak.confidence - state.confidence > drop_from.confidence - drop_to.confidence:
            drop_from, drop_to = peak, state
    return ConfidencePath(cited[0], lowest, cited[-1], drop_from, drop_to)


def read_mind(timeline: EpistemicTimeline | None) -> MindFacts:
    """The facts of a timeline; an empty set of facts when there is none."""
    if timeline is None:
        return MindFacts((), (), (), None, 0)
    goals: dict[tuple[str, str], Goal] = {}
    beliefs: set[tuple[str, str]] = set()
    for state in timeline.states:
        for goal in state.goals:
            goals[(state.agent_id, goal.description)] = goal
        beliefs.update((state.agent_id, belief.statement) for belief in state.beliefs)
    revisions = tuple(timeline.revisions)
    return MindFacts(
        revisions=revisions,
        contradictions=tuple(revision for revision in revisions if revision.kind in CONTRADICTION_KINDS),
        goals=tuple(goals.values()),
        confidence=_confidence_path(timeline.states),
        belief_count=len(beliefs),
    )
