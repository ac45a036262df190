"""Combining methods: weighted reciprocal rank fusion of their per-session rankings.

Each method ranks the session's candidate turns (best first, ties to the earlier step); a turn's combined score
is ``sum(weight / (RANK_OFFSET + rank))`` over methods (Cormack, Clarke and Buettcher, SIGIR 2009). Ranks, not raw
scores, are fused because the methods' scores live on different scales (a share of blame, a share of the
answer's support, a cue sum, a probability) and a method with a flat score profile must not be drowned by one
with a peaked profile. ``RANK_OFFSET`` is 1 rather than the usual 60 since a session has a handful of candidate
turns, not a long document list: the top of each ranking should count. The fused scores are normalised to sum
to 1 over the session's candidates and are the candidates' confidences; an agent's confidence is the sum over its
turns (:func:`rank_agents`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from escai.analysis.causal.attribution.base import StepScore
from escai.model.records import FailureCandidate

RANK_OFFSET = 1.0
"""The ``k`` of reciprocal rank fusion."""


def rank_steps(scores: Sequence[StepScore]) -> list[StepScore]:
    """Scores ordered best first; equal scores go to the earlier step (an earlier mistake explains more)."""
    return sorted(scores, key=lambda item: (-item.score, item.step_index))


def fuse_rankings(
    method_scores: Mapping[str, Sequence[StepScore]], weights: Mapping[str, float] | None = None
) -> list[StepScore]:
    """One fused score per candidate turn (summing to 1), with the evidence and reasons of every method."""
    fused: dict[int, float] = defaultdict(float)
    agents: dict[int, str] = {}
    evidence: dict[int, list[str]] = defaultdict(list)
    reasons: dict[int, list[str]] = defaultdict(list)
    for name, scores in method_scores.items():
        weight = 1.0 if weights is None else weights.get(name, 0.0)
        if weight <= 0:
            continue
        for rank, item in enumerate(rank_steps(scores)):
            fused[item.step_index] += weight / (RANK_OFFSET + rank)
            agents[item.step_index] = item.agent_id
            evidence[item.step_index].extend(
                event_id for event_id in item.evidence_event_ids if event_id not in evidence[item.step_index]
            )
            if rank == 0:
                reasons[item.step_index].append(f"{name}: {item.reason}")
    total = sum(fused.values()) or 1.0
    return [
        StepScore(
            step_index=step,
            agent_id=agents[step],
            score=fused[step] / total,
            evidence_event_ids=tuple(evidence[step]),
            reason="; ".join(reasons[step]) or "ranked below the top by every method",
        )
        for step in sorted(fused)
    ]


def rank_agents(candidates: Sequence[FailureCandidate]) -> list[tuple[str, float]]:
    """Agents with the summed confidence of their candidate turns, most blamed first (ties: earliest turn)."""
    totals: dict[str, float] = defaultdict(float)
    first_step: dict[str, int] = {}
    for candidate in candidates:
        totals[candidate.agent_id] += candidate.confidence
        first_step[candidate.agent_id] = min(
            first_step.get(candidate.agent_id, candidate.step_index), candidate.step_index
        )
    return sorted(totals.items(), key=lambda pair: (-pair[1], first_step[pair[0]]))
