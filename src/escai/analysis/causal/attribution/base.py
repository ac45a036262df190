"""What every attribution method shares: the protocol, a method's scores per step, and ranking them.

A method reads a :class:`SessionView` (built from events with the labels stripped) and scores each candidate turn:
higher means more likely the decisive mistake. Scores of one method are only compared within a session; the
combiner turns them into a distribution over the session's candidates before mixing methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from escai.analysis.causal.attribution.view import SessionView


@dataclass(frozen=True, slots=True)
class StepScore:
    """One method's score for one candidate turn, with the events and the words that justify it."""

    step_index: int
    agent_id: str
    score: float
    evidence_event_ids: tuple[str, ...] = ()
    reason: str = ""
    details: dict[str, float] = field(default_factory=dict)


class FailureAttributor(Protocol):
    """A failure-attribution method: scores every candidate turn of a failed session."""

    name: str
    """Stable name, stored with results (``blame``, ``counterfactual``, ``cues``, ``learned``, ``combined``)."""

    def score_steps(self, view: SessionView) -> list[StepScore]:
        """One score per candidate turn of ``view``, in step order."""
        ...


def normalise_scores(scores: list[StepScore], temperature: float = 1.0) -> dict[int, float]:
    """Scores as a distribution over steps: shifted to be non-negative, sharpened by ``temperature``, summing to 1.

    A method that cannot tell steps apart (all scores equal) yields the uniform distribution, so it adds nothing
    to a combination rather than pulling it toward an arbitrary step.
    """
    if not scores:
        return {}
    low = min(item.score for item in scores)
    shifted = {item.step_index: (item.score - low) ** (1.0 / temperature) for item in scores}
    total = sum(shifted.values())
    if total <= 0:
        return {item.step_index: 1.0 / len(scores) for item in scores}
    return {step: value / total for step, value in shifted.items()}
