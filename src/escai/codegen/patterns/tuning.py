"""Learning each rule's tuning from reviewed findings (pure functions; the database side is in ``feedback``).

Per rule:

- precision posterior ``Beta(PRIOR_ALPHA + true positives, PRIOR_BETA + false positives)``;
- reporting threshold: among cut points between the reviewed base confidences, the one that misclassifies the
  fewest reviews (a false positive at or above it, or a true positive / false negative below it). The default
  threshold wins ties, so it moves only when feedback shows a strictly better cut. A false negative the rule
  never saw (no confidence) cannot be fixed by a threshold: it only lowers recall;
- suppressions: fingerprints of user overrides.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from scipy.stats import beta as beta_distribution

from escai.codegen.patterns.model import DEFAULT_THRESHOLD, PRIOR_ALPHA, PRIOR_BETA, RuleTuning, Tuning
from escai.store.seed_repository import PatternFeedbackAnalysis


@dataclass(frozen=True, slots=True)
class Review:
    """One feedback row as the learner needs it."""

    pattern_id: str
    feedback_type: str
    base_confidence: float | None = None
    fingerprint: str | None = None


def _cost(threshold: float, positives: Sequence[float], negatives: Sequence[float]) -> int:
    return sum(value < threshold for value in positives) + sum(value >= threshold for value in negatives)


MIN_CORRECTED_REVIEWS: Final = 2
"""A threshold moves only if the new one classifies at least this many more reviews correctly than the default.

Reviewers only see reported findings, so nothing counterweighs a lone false negative under the threshold; one
review is an anecdote, two that agree are evidence.
"""


def learn_threshold(
    positives: Sequence[float],
    negatives: Sequence[float],
    default: float = DEFAULT_THRESHOLD,
    *,
    min_corrected: int = MIN_CORRECTED_REVIEWS,
) -> float:
    """The reporting threshold that misclassifies the fewest reviewed confidences (the default on ties).

    It replaces the default only when it classifies ``min_corrected`` more reviews correctly.
    """
    values = sorted({*positives, *negatives})
    if not values:
        return default
    cuts = [values[0] - 0.01, *((low + high) / 2 for low, high in itertools.pairwise(values))]
    cuts.append(min(values[-1] + 0.01, 1.0))
    default_cost = _cost(default, positives, negatives)
    best, best_cost = default, default_cost
    for cut in sorted(cuts, key=lambda value: abs(value - default)):
        cost = _cost(cut, positives, negatives)
        if cost < best_cost:
            best, best_cost = cut, cost
    return round(best, 4) if default_cost - best_cost >= min_corrected else default


def learn_tuning(reviews: Iterable[Review], *, min_corrected: int = MIN_CORRECTED_REVIEWS) -> Tuning:
    """Per-rule tuning from reviews, in any order (``min_corrected``: see :func:`learn_threshold`)."""
    by_rule: dict[str, list[Review]] = defaultdict(list)
    for review in reviews:
        by_rule[review.pattern_id].append(review)
    rules: dict[str, RuleTuning] = {}
    for pattern_id, rule_reviews in by_rule.items():
        kinds = [review.feedback_type for review in rule_reviews]
        positives = [
            review.base_confidence
            for review in rule_reviews
            if review.feedback_type in ("true_positive", "false_negative") and review.base_confidence is not None
        ]
        negatives = [
            review.base_confidence
            for review in rule_reviews
            if review.feedback_type == "false_positive" and review.base_confidence is not None
        ]
        suppressed = frozenset(
            review.fingerprint
            for review in rule_reviews
            if review.feedback_type == "user_override" and review.fingerprint is not None
        )
        rules[pattern_id] = RuleTuning(
            threshold=learn_threshold(positives, negatives, min_corrected=min_corrected),
            alpha=PRIOR_ALPHA + kinds.count("true_positive"),
            beta=PRIOR_BETA + kinds.count("false_positive"),
            suppressed=suppressed,
        )
    return Tuning(rules)


@dataclass(frozen=True, slots=True)
class PatternPrecision:
    """How precise one rule is by its reviews, with the tuning feedback gave it.

    ``precision`` and ``false_positive_rate`` are the raw ratios of the ``pattern_feedback_analysis`` view
    (None without reviews); ``posterior_mean`` and the 90 % credible interval come from the Beta posterior.
    """

    pattern_id: str
    true_positives: int
    false_positives: int
    false_negatives: int
    user_overrides: int
    precision: float | None
    false_positive_rate: float | None
    recall: float | None
    posterior_mean: float
    credible_low: float
    credible_high: float
    threshold: float


def summarise_precision(
    analyses: Iterable[PatternFeedbackAnalysis], tuning: Tuning, pattern_ids: Iterable[str] = ()
) -> list[PatternPrecision]:
    """One :class:`PatternPrecision` per analysed pattern (plus ``pattern_ids`` without reviews), by id."""
    by_id: Mapping[str, PatternFeedbackAnalysis] = {analysis.pattern_id: analysis for analysis in analyses}
    report: list[PatternPrecision] = []
    for pattern_id in sorted({*by_id, *pattern_ids}):
        analysis = by_id.get(pattern_id)
        rule_tuning = tuning.for_rule(pattern_id)
        low, high = beta_distribution.ppf([0.05, 0.95], rule_tuning.alpha, rule_tuning.beta)
        report.append(
            PatternPrecision(
                pattern_id=pattern_id,
                true_positives=analysis.true_positives if analysis else 0,
                false_positives=analysis.false_positives if analysis else 0,
                false_negatives=analysis.false_negatives if analysis else 0,
                user_overrides=analysis.user_overrides if analysis else 0,
                precision=analysis.precision if analysis else None,
                false_positive_rate=analysis.false_positive_rate if analysis else None,
                recall=analysis.recall if analysis else None,
                posterior_mean=round(rule_tuning.precision_mean, 4),
                credible_low=round(float(low), 4),
                credible_high=round(float(high), 4),
                threshold=rule_tuning.threshold,
            )
        )
    return report
