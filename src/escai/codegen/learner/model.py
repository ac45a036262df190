"""The compatibility model: logistic regression on property features, trained on recorded outcomes.

``predict(kind, mixins) -> (score, confidence)``: ``score`` is the probability that a node of ``kind`` with
those mixins builds and passes its behavioural test. A pair that was observed is a blend of its observed
Laplace-smoothed rate and the model, weighted by the stored confidence ``n / (n + 5)``; an unseen one is the
model alone. A triple (or more) is as compatible as its worst pair or its own prediction, whichever is lower.
``confidence`` is ``|2p - 1|`` (how far from a coin toss) times the model's cross-validated accuracy (how much
its calls are worth), raised to the observed confidence when the pair has been seen.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.codegen.learner.features import encode_many
from escai.store.seed_repository import (
    canonical_mixin_pair,
    compatibility_confidence,
    compatibility_score,
    list_mixin_compatibility,
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One generate-and-test run (or ``weight`` identical runs) of ``mixins`` on a node of ``node_kind``."""

    node_kind: str
    mixins: tuple[str, ...]
    success: bool
    error: str | None = None
    weight: float = 1.0
    culprits: tuple[str, ...] = ()
    """Mixins the runtime blamed for a failure (empty when it did not say)."""


@dataclass(frozen=True, slots=True)
class PairRecord:
    """What is known about one pair on one kind: success and failure counts."""

    successes: float = 0.0
    failures: float = 0.0


def make_estimator() -> Pipeline:
    """A fresh, unfitted estimator: standardised features into an L2-regularised logistic regression."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


def pair_records(outcomes: Iterable[Outcome]) -> dict[tuple[str, str, str], PairRecord]:
    """Per (kind, mixin_a, mixin_b), the counts a set of outcomes implies (each pair of a combination shares it)."""
    records: dict[tuple[str, str, str], PairRecord] = {}
    for outcome in outcomes:
        for first, second in itertools.combinations(sorted(set(outcome.mixins)), 2):
            key = (outcome.node_kind, *canonical_mixin_pair(first, second))
            old = records.get(key, PairRecord())
            records[key] = PairRecord(
                old.successes + outcome.weight * outcome.success, old.failures + outcome.weight * (not outcome.success)
            )
    return records


@dataclass(slots=True)
class CompatibilityModel:
    """A fitted compatibility predictor (see the module docstring for what its numbers mean)."""

    estimator: Pipeline | None
    """None when the training data had one class only; ``prior`` is then the prediction."""
    prior: float
    reliability: float
    """Cross-validated accuracy of the estimator on the training data (0.5 when it could not be measured)."""
    observed: Mapping[tuple[str, str, str], PairRecord] = field(default_factory=dict)
    training_size: int = 0

    def predict_unseen(self, kind: str, mixins: Sequence[str]) -> float:
        """The model's probability of success from features alone, ignoring anything observed."""
        if self.estimator is None:
            return self.prior
        probabilities = self.estimator.predict_proba(encode_many([(kind, tuple(mixins))]))
        classes = list(self.estimator.classes_)
        return float(probabilities[0][classes.index(1)]) if 1 in classes else 0.0

    def _predict_pair(self, kind: str, first: str, second: str) -> tuple[float, float]:
        model_score = self.predict_unseen(kind, (first, second))
        model_confidence = abs(2 * model_score - 1) * self.reliability
        record = self.observed.get((kind, *canonical_mixin_pair(first, second)))
        if record is None:
            return model_score, model_confidence
        observations = record.successes + record.failures
        weight = compatibility_confidence(round(observations))
        observed_score = compatibility_score(round(record.successes), round(record.failures))
        score = weight * observed_score + (1 - weight) * model_score
        return score, max(weight, model_confidence)

    def predict(self, kind: str, mixins: Sequence[str]) -> tuple[float, float]:
        """``(score, confidence)`` that ``mixins`` work together on a node of ``kind``; both in [0, 1].

        Raises :class:`~escai.codegen.learner.features.UnknownMixinError` for an unknown kind or mixin.
        """
        unique = sorted(set(mixins))
        if len(unique) < 2:
            score = self.predict_unseen(kind, unique)
            return round(score, 4), round(abs(2 * score - 1) * self.reliability, 4)
        candidates = [self._predict_pair(kind, first, second) for first, second in itertools.combinations(unique, 2)]
        if len(unique) > 2:
            whole = self.predict_unseen(kind, unique)
            candidates.append((whole, abs(2 * whole - 1) * self.reliability))
        score, confidence = min(candidates, key=lambda candidate: candidate[0])
        return round(score, 4), round(confidence, 4)


def _fit(outcomes: Sequence[Outcome]) -> tuple[Pipeline | None, float, float]:
    labels = np.asarray([int(outcome.success) for outcome in outcomes])
    weights = np.asarray([outcome.weight for outcome in outcomes], dtype=np.float64)
    prior = float(np.average(labels, weights=weights)) if len(labels) else 0.5
    if len(set(labels.tolist())) < 2:
        return None, prior, 0.5
    features = encode_many([(outcome.node_kind, outcome.mixins) for outcome in outcomes])
    estimator = make_estimator()
    estimator.fit(features, labels, logisticregression__sample_weight=weights)
    minority = int(min(np.sum(labels), np.sum(1 - labels)))
    reliability = 0.5
    if minority >= 2:
        folds = StratifiedKFold(n_splits=min(5, minority), shuffle=True, random_state=0)
        reliability = float(np.mean(cross_val_score(make_estimator(), features, labels, cv=folds)))
    return estimator, prior, reliability


def train(outcomes: Iterable[Outcome]) -> CompatibilityModel:
    """Fit a :class:`CompatibilityModel` on outcomes (pairs, triples, ... of any kinds)."""
    listed = list(outcomes)
    estimator, prior, reliability = _fit(listed)
    return CompatibilityModel(estimator, prior, reliability, pair_records(listed), len(listed))


async def load_outcomes(conn: AsyncConnection) -> list[Outcome]:
    """The ``mixin_compatibility_matrix`` as weighted pair outcomes (one per non-zero count)."""
    outcomes: list[Outcome] = []
    for row in await list_mixin_compatibility(conn):
        mixins = (row.mixin_a, row.mixin_b)
        if row.success_count:
            outcomes.append(Outcome(row.node_kind, mixins, True, weight=float(row.success_count)))
        if row.failure_count:
            outcomes.append(Outcome(row.node_kind, mixins, False, row.last_error, float(row.failure_count)))
    return outcomes


async def train_from_database(conn: AsyncConnection) -> CompatibilityModel:
    """Fit a :class:`CompatibilityModel` on every pair outcome recorded in ``mixin_compatibility_matrix``."""
    return train(await load_outcomes(conn))
