"""A ranker learned from labelled failed runs: logistic regression over turn features and the label-free scores.

Each candidate turn of a training run is one example, positive when it is the labelled mistake step. The features
are :data:`~escai.analysis.causal.attribution.features.FEATURE_NAMES` plus the within-session distribution of every
label-free method's scores (stacking), standardised; a strongly regularised logistic regression keeps the model
small enough for a few hundred runs. At prediction time the per-turn probabilities are renormalised within the
session. Nothing in the features names an agent or a task, so a ranker trained on one framework's logs can score
another's; the evaluation command still trains it only on the logs it is given, with cross-fitting.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from escai.analysis.causal.attribution.base import FailureAttributor, StepScore, normalise_scores
from escai.analysis.causal.attribution.blame import BlamePropagation
from escai.analysis.causal.attribution.counterfactual import CounterfactualScorer
from escai.analysis.causal.attribution.cues import ErrorCueScorer
from escai.analysis.causal.attribution.features import extract_features
from escai.analysis.causal.attribution.view import SessionView

REGULARISATION = 0.03
"""Inverse regularisation strength ``C`` of the logistic regression (small: few runs, many correlated features)."""


def label_free_methods() -> list[FailureAttributor]:
    """The methods that need no labels, in a fixed order (their scores are stacked as ranker features)."""
    return [ErrorCueScorer(), BlamePropagation(), CounterfactualScorer()]


def build_ranker_features(view: SessionView, methods: Sequence[FailureAttributor]) -> npt.NDArray[np.float64]:
    """Turn features with each method's within-session score distribution appended, one row per candidate."""
    features = extract_features(view)
    stacked = []
    for method in methods:
        distribution = normalise_scores(method.score_steps(view))
        stacked.append([distribution.get(turn.step_index, 0.0) for turn in view.candidates])
    if not stacked:
        return features
    return np.hstack([features, np.asarray(stacked, dtype=np.float64).T.reshape(len(view.candidates), -1)])


class LearnedRanker:
    """Scores turns with a model trained on labelled runs (see :meth:`train`)."""

    name = "learned"

    def __init__(self, model: Pipeline, methods: Sequence[FailureAttributor]) -> None:
        self._model = model
        self._methods = list(methods)

    @classmethod
    def train(
        cls,
        views: Sequence[SessionView],
        mistake_steps: Sequence[int],
        *,
        regularisation: float = REGULARISATION,
        methods: Sequence[FailureAttributor] | None = None,
    ) -> LearnedRanker:
        """Fit on failed runs and their labelled mistake steps; raises ValueError without a labelled candidate."""
        stack = list(label_free_methods() if methods is None else methods)
        rows: list[npt.NDArray[np.float64]] = []
        targets: list[bool] = []
        for view, mistake_step in zip(views, mistake_steps, strict=True):
            if not view.candidates:
                continue
            rows.append(build_ranker_features(view, stack))
            targets.extend(turn.step_index == mistake_step for turn in view.candidates)
        if not rows or not any(targets) or all(targets):
            raise ValueError("training needs runs whose labelled mistake step is one of several candidate turns")
        model = make_pipeline(StandardScaler(), LogisticRegression(C=regularisation, max_iter=5000))
        model.fit(np.vstack(rows), np.asarray(targets))
        return cls(model, stack)

    def score_steps(self, view: SessionView) -> list[StepScore]:
        """One score per candidate turn: its probability of being the mistake, renormalised within the session."""
        if not view.candidates:
            return []
        probabilities = self._model.predict_proba(build_ranker_features(view, self._methods))[:, 1]
        probabilities = probabilities / probabilities.sum()
        return [
            StepScore(
                step_index=turn.step_index,
                agent_id=turn.agent_id,
                score=float(probability),
                evidence_event_ids=turn.event_ids,
                reason=f"learned ranker: {probability:.0%} of the session's mistake probability",
                details={"probability": float(probability)},
            )
            for turn, probability in zip(view.candidates, probabilities, strict=True)
        ]
