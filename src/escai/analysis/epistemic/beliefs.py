"""One agent's beliefs over time: new statements, restatements, contradictions, retractions and revisions.

A new statement is compared with the beliefs the agent already holds by sentence similarity. Close enough and of the
same polarity, it reaffirms the old belief; close enough but negated, or naming different numbers, it contradicts it;
a statement that retracts ("that was wrong", "actually, ...") lowers the closest belief. Tool results revise the
beliefs the agent stated just before acting: a failure weakens them, a repeated failure of the same action weakens them
more. Each change is a :class:`BeliefRevision` record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from escai.analysis.epistemic.statements import CandidateBelief
from escai.analysis.text.embedding import TextEmbedder, Vectors
from escai.model.records import Belief, BeliefRevision, KnowledgeFact, RevisionKind

# Cosine similarity above which two statements are about the same thing. Hashed n-grams score paraphrases lower than
# MiniLM does, so the light method needs a lower bar; both were set by reading pairs from the SWE-bench and Who&When
# logs (docs/epistemic.md shows examples).
SAME_TOPIC_THRESHOLD = {"minilm": 0.78, "light": 0.6}
RETRACTION_THRESHOLD = {"minilm": 0.5, "light": 0.35}
MAX_HELD_BELIEFS = 60
MIN_RECORDED_CHANGE = 0.02


@dataclass(slots=True)
class _Held:
    belief: Belief
    vector: Vectors
    negated: bool
    numbers: frozenset[str]
    event_id: str
    revisions: int = 0


@dataclass(slots=True)
class BeliefBook:
    """The beliefs one agent holds in one session."""

    session_id: str
    agent_id: str
    embedder: TextEmbedder
    vectors: dict[str, Vectors]
    """Shared cache text -> unit vector (filled in one batch by the batch extractor)."""
    held: list[_Held] = field(default_factory=list)
    last_stated: list[int] = field(default_factory=list)
    """Positions in ``held`` of the beliefs of the agent's latest statement: its expectations for its next action."""

    @property
    def _same_topic(self) -> float:
        return SAME_TOPIC_THRESHOLD.get(self.embedder.name, 0.7)

    def vectors_for(self, texts: list[str]) -> Vectors:
        """Unit vectors of ``texts``, embedding only those not cached yet."""
        missing = [text for text in dict.fromkeys(texts) if text not in self.vectors]
        if missing:
            for text, vector in zip(missing, self.embedder.embed(missing), strict=True):
                self.vectors[text] = vector
        return np.stack([self.vectors[text] for text in texts]) if texts else np.zeros((0, 0), dtype=np.float32)

    def state(
        self, candidates: list[CandidateBelief], *, retraction: bool, event_id: str, step: int, timestamp: datetime
    ) -> list[BeliefRevision]:
        """Take in what the agent just said; return the revisions it caused."""
        revisions: list[BeliefRevision] = []
        stated: list[int] = []
        if not candidates:
            self.last_stated = []
            return revisions
        vectors = self.vectors_for([candidate.text for candidate in candidates])
        held_matrix = np.stack([entry.vector for entry in self.held]) if self.held else None
        for candidate, vector in zip(candidates, vectors, strict=True):
            similarities = held_matrix @ vector if held_matrix is not None else np.zeros(0, dtype=np.float32)
            best = int(np.argmax(similarities)) if similarities.size else -1
            best_similarity = float(similarities[best]) if best >= 0 else 0.0
            if retraction and best >= 0 and best_similarity >= RETRACTION_THRESHOLD.get(self.embedder.name, 0.45):
                revisions += self._revise(
                    best, RevisionKind.RETRACTED, 0.5, "the agent withdrew it", event_id, step, timestamp
                )
            if best >= 0 and best_similarity >= self._same_topic:
                entry = self.held[best]
                if entry.negated != candidate.negated or _numbers_disagree(entry.numbers, candidate.numbers):
                    revisions += self._revise(
                        best,
                        RevisionKind.CONTRADICTED,
                        1 - candidate.confidence,
                        "a later statement says otherwise",
                        event_id,
                        step,
                        timestamp,
                    )
                else:
                    revisions += self._revise(
                        best,
                        RevisionKind.REAFFIRMED,
                        0.3 * candidate.confidence,
                        "stated again",
                        event_id,
                        step,
                        timestamp,
                    )
                    stated.append(best)
                    continue
            stated.append(self._hold(candidate, vector, event_id, step))
        self.last_stated = stated
        return revisions

    def after_action(
        self, *, failed: bool, repeated_failure: bool, event_id: str, step: int, timestamp: datetime
    ) -> list[BeliefRevision]:
        """Revise the expectations the agent stated before its last action, now that its result is known."""
        revisions: list[BeliefRevision] = []
        for position in self.last_stated:
            if repeated_failure:
                revisions += self._revise(
                    position, RevisionKind.WEAKENED, 0.5, "the same action failed again", event_id, step, timestamp
                )
            elif failed:
                revisions += self._revise(
                    position, RevisionKind.WEAKENED, 0.25, "the action it led to failed", event_id, step, timestamp
                )
            else:
                revisions += self._revise(
                    position, RevisionKind.REAFFIRMED, 0.1, "the action it led to succeeded", event_id, step, timestamp
                )
        return revisions

    def check_facts(
        self, facts: list[KnowledgeFact], event_id: str, step: int, timestamp: datetime
    ) -> list[BeliefRevision]:
        """Contradict beliefs that name a fact's subject and relation with a different value than the result."""
        revisions: list[BeliefRevision] = []
        for fact in facts:
            subject, relation, value = fact.subject.lower(), fact.relation.lower().replace("_", " "), fact.object
            if len(subject) < 3 or len(relation) < 3 or len(value) > 60:
                continue
            for position, entry in enumerate(self.held):
                text = entry.belief.statement.lower()
                if (
                    subject in text
                    and relation in text
                    and value.lower() not in text
                    and entry.numbers
                    and any(char.isdigit() for char in value)
                ):
                    revisions += self._revise(
                        position,
                        RevisionKind.CONTRADICTED,
                        0.6,
                        f"a result gives {fact.relation} = {value[:40]}",
                        event_id,
                        step,
                        timestamp,
                    )
        return revisions

    def snapshot(self, limit: int = 10) -> list[Belief]:
        """The beliefs worth showing now: the most recent ones, firmest first among equals."""
        recent = self.held[-limit:]
        return [entry.belief for entry in recent]

    def mean_entropy(self) -> float:
        """Mean binary entropy (in bits, so in [0, 1]) of the recent beliefs' confidences: how unsettled they are."""
        recent = [entry.belief.confidence for entry in self.held[-10:]]
        if not recent:
            return 0.5
        probabilities = np.clip(np.asarray(recent), 1e-6, 1 - 1e-6)
        entropy = -(probabilities * np.log2(probabilities) + (1 - probabilities) * np.log2(1 - probabilities))
        return float(entropy.mean())

    def _hold(self, candidate: CandidateBelief, vector: Vectors, event_id: str, step: int) -> int:
        belief = Belief(
            statement=candidate.text,
            confidence=round(candidate.confidence, 4),
            evidence_event_ids=[event_id],
            source=candidate.source,
            step_index=step,
        )
        self.held.append(_Held(belief, vector, candidate.negated, candidate.numbers, event_id))
        if len(self.held) > MAX_HELD_BELIEFS:
            del self.held[0]
            self.last_stated = [position - 1 for position in self.last_stated if position > 0]
        return len(self.held) - 1

    def _revise(
        self,
        position: int,
        kind: RevisionKind,
        amount: float,
        reason: str,
        event_id: str,
        step: int,
        timestamp: datetime,
    ) -> list[BeliefRevision]:
        entry = self.held[position]
        before = entry.belief.confidence
        if kind is RevisionKind.REAFFIRMED:
            after = before + (1 - before) * amount
        elif kind is RevisionKind.CONTRADICTED:
            after = min(before, max(0.02, amount)) * 0.7
        else:
            after = before * (1 - amount)
        after = round(min(0.98, max(0.02, after)), 4)
        if abs(after - before) < MIN_RECORDED_CHANGE:
            return []
        evidence = list(dict.fromkeys([*entry.belief.evidence_event_ids[:1], event_id]))
        entry.belief = entry.belief.model_copy(update={"confidence": after, "evidence_event_ids": evidence})
        entry.revisions += 1
        return [
            BeliefRevision(
                session_id=self.session_id,
                agent_id=self.agent_id,
                step_index=step,
                statement=entry.belief.statement,
                kind=kind,
                previous_confidence=before,
                new_confidence=after,
                reason=reason,
                evidence_event_ids=evidence,
                timestamp=timestamp,
            )
        ]


def _numbers_disagree(left: frozenset[str], right: frozenset[str]) -> bool:
    """Both statements name numbers and share none of them: likely different values for the same thing."""
    return bool(left) and bool(right) and not (left & right)
