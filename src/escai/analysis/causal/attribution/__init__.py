"""Failure attribution: which agent at which step caused a failed session to fail.

Three label-free methods score every candidate turn (a step where an agent spoke or acted):

- ``cues`` (:class:`ErrorCueScorer`): local error cues, the first concrete action on a shaky basis;
- ``blame`` (:class:`BlamePropagation`): blame flowing back from the final answer through the event dependency
  graph, kept by the events that originated what the answer rests on;
- ``counterfactual`` (:class:`CounterfactualScorer`): the share of the final answer's support that would be gone
  had the step not happened;

and a fourth, ``learned`` (:class:`LearnedRanker`), is trained on labelled runs when some are available. The
methods are combined by weighted reciprocal rank fusion (:mod:`.combine`); :func:`attribute_failure` returns the
ranked (agent, step) candidates with confidences that sum to 1 and the evidence of each. Labels never reach a
method: the events are stripped of ground-truth attributes before anything reads them (:func:`strip_labels`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from escai.analysis.causal.attribution.base import FailureAttributor, StepScore, normalise_scores
from escai.analysis.causal.attribution.blame import BlamePropagation
from escai.analysis.causal.attribution.combine import fuse_rankings, rank_agents, rank_steps
from escai.analysis.causal.attribution.counterfactual import CounterfactualScorer
from escai.analysis.causal.attribution.cues import ErrorCueScorer
from escai.analysis.causal.attribution.learned import LearnedRanker, label_free_methods
from escai.analysis.causal.attribution.view import SessionView, build_session_view
from escai.analysis.causal.dependency import strip_labels
from escai.model.events import AgentEvent
from escai.model.records import FailureAttribution, FailureCandidate

__all__ = [
    "BlamePropagation",
    "CounterfactualScorer",
    "ErrorCueScorer",
    "FailureAttributor",
    "LearnedRanker",
    "SessionView",
    "StepScore",
    "attribute_failure",
    "build_session_view",
    "combined_method_name",
    "label_free_methods",
    "rank_agents",
    "score_methods",
    "strip_labels",
    "to_attribution",
]


def score_methods(view: SessionView, methods: Sequence[FailureAttributor]) -> dict[str, list[StepScore]]:
    """Every method's scores for the session's candidate turns, by method name."""
    return {method.name: method.score_steps(view) for method in methods}


def combined_method_name(names: Sequence[str]) -> str:
    """The stored name of a fusion of methods, e.g. ``combined(cues+blame+counterfactual)``."""
    return f"combined({'+'.join(names)})"


def to_attribution(
    session_id: str, method: str, scores: Sequence[StepScore], *, normalise: bool = True, top_k: int | None = None
) -> FailureAttribution:
    """Scores as a ranked attribution; confidences are the scores' within-session distribution (sum to 1)."""
    confidence = normalise_scores(list(scores)) if normalise else {item.step_index: item.score for item in scores}
    ranked = sorted(scores, key=lambda item: (-confidence.get(item.step_index, 0.0), item.step_index))
    candidates = [
        FailureCandidate(
            agent_id=item.agent_id,
            step_index=item.step_index,
            confidence=min(1.0, max(0.0, confidence.get(item.step_index, 0.0))),
            evidence_event_ids=list(item.evidence_event_ids),
            reason=item.reason,
        )
        for item in ranked[:top_k]
    ]
    return FailureAttribution(session_id=session_id, method=method, candidates=candidates)


def attribute_failure(
    events: Sequence[AgentEvent],
    *,
    methods: Sequence[FailureAttributor] | None = None,
    ranker: LearnedRanker | None = None,
    weights: Mapping[str, float] | None = None,
    top_k: int | None = None,
) -> FailureAttribution:
    """Rank (agent, step) candidates for the failure of one session, most likely first.

    ``methods`` defaults to the three label-free methods; a trained ``ranker`` joins them. With one method its
    normalised scores are the confidences; with several they are fused by reciprocal rank fusion (``weights`` by
    method name, 1 each by default). Ground-truth attributes on the events are removed before any method runs.
    """
    view = build_session_view(events)
    chosen = list(label_free_methods() if methods is None else methods)
    if ranker is not None:
        chosen.append(ranker)
    if not chosen:
        raise ValueError("attribution needs at least one method")
    scores = score_methods(view, chosen)
    if len(chosen) == 1:
        return to_attribution(view.session_id, chosen[0].name, scores[chosen[0].name], top_k=top_k)
    fused = rank_steps(fuse_rankings(scores, weights))
    name = combined_method_name([method.name for method in chosen])
    return to_attribution(view.session_id, name, fused, normalise=False, top_k=top_k)
