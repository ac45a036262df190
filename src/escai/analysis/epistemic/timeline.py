"""What the epistemic extractor produces for a session: per-step states, belief revisions and knowledge facts."""

from __future__ import annotations

from dataclasses import dataclass, field

from escai.model.records import BeliefRevision, EpistemicState, KnowledgeFact


@dataclass(frozen=True, slots=True)
class EpistemicUpdate:
    """What one incoming event changed: the agent's new state (None when nothing changed) and new revisions."""

    state: EpistemicState | None
    revisions: list[BeliefRevision] = field(default_factory=list)
    facts: list[KnowledgeFact] = field(default_factory=list)
    """Knowledge facts established by this event (also inside ``state.knowledge``, which keeps the latest few)."""


@dataclass(slots=True)
class EpistemicTimeline:
    """The epistemic history of one session, in event order."""

    session_id: str
    method: str
    """The similarity method used: ``minilm`` or ``light``."""
    states: list[EpistemicState] = field(default_factory=list)
    revisions: list[BeliefRevision] = field(default_factory=list)
    facts: list[KnowledgeFact] = field(default_factory=list)
    """Every fact established in the session (the whole knowledge graph's edges)."""

    def add(self, update: EpistemicUpdate) -> None:
        """Append what one event changed."""
        if update.state is not None:
            self.states.append(update.state)
        self.revisions.extend(update.revisions)
        self.facts.extend(update.facts)

    def final_state(self, agent_id: str | None = None) -> EpistemicState | None:
        """The last state of ``agent_id`` (of any agent when None)."""
        for state in reversed(self.states):
            if agent_id is None or state.agent_id == agent_id:
                return state
        return None
