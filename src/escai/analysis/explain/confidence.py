"""How sure an explanation is: more cited events and more kinds of evidence make a more confident explanation.

The figure is a documented heuristic, not a calibrated probability. ``amount`` saturates with the number of
distinct cited events (half way at about :data:`EVIDENCE_SCALE` x 0.7 events); ``breadth`` is the share of the
kind's evidence groups (below) that at least one sentence covers. Confidence is ``amount * (0.5 + 0.5 *
breadth)``, then scaled by what the inputs themselves are worth: the attribution's top confidence for a failure
explained from an attribution, a prediction's own confidence and the share of its drivers' weight that could be
cited, and for a comparison the weaker side.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from escai.model.records import ClaimType, ExplanationKind, ExplanationSentence

EVIDENCE_SCALE = 10.0

_GROUPS: dict[ExplanationKind, tuple[frozenset[ClaimType], ...]] = {
    ExplanationKind.BEHAVIOUR: (
        frozenset({ClaimType.TASK}),
        frozenset({ClaimType.ACTION}),
        frozenset({ClaimType.TOOL_SUCCESS, ClaimType.TOOL_FAILURE, ClaimType.ERROR}),
        frozenset({ClaimType.BELIEF, ClaimType.REVISION, ClaimType.GOAL}),
        frozenset({ClaimType.OUTCOME}),
    ),
    ExplanationKind.FAILURE: (
        frozenset({ClaimType.OUTCOME}),
        frozenset({ClaimType.ATTRIBUTION, ClaimType.TOOL_FAILURE, ClaimType.ERROR}),
        frozenset({ClaimType.REVISION, ClaimType.GOAL, ClaimType.BELIEF, ClaimType.REPETITION}),
    ),
    ExplanationKind.PREDICTION: (frozenset({ClaimType.PREDICTION}),),
    ExplanationKind.COMPARISON: (frozenset({ClaimType.COMPARISON}),),
}


def evidence_amount(event_ids: Iterable[str]) -> float:
    """A value in [0, 1) that grows with the number of distinct cited events."""
    return 1.0 - math.exp(-len(set(event_ids)) / EVIDENCE_SCALE)


def evidence_confidence(kind: ExplanationKind, sentences: Sequence[ExplanationSentence]) -> float:
    """The confidence the sentences' evidence supports, before scaling by the inputs' own worth."""
    if not sentences:
        return 0.0
    groups = _GROUPS[kind]
    claims = {sentence.claim for sentence in sentences}
    breadth = sum(1 for group in groups if group & claims) / len(groups)
    amount = evidence_amount(event_id for sentence in sentences for event_id in sentence.evidence_event_ids)
    return amount * (0.5 + 0.5 * breadth)


def bounded(value: float) -> float:
    """``value`` clipped to [0, 1] and rounded to three decimals."""
    return round(min(1.0, max(0.0, value)), 3)
