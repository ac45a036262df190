"""Evaluation of success prediction by grouped cross-validation inside labelled data, beside two baselines.

Runs are split into folds by :func:`~escai.analysis.predict.cv.grouped_folds` over their task groups (the task
text), so no task has trials on both sides. In each fold the full-run classifier and the early-warning model are
trained on the other folds only, then score the held-out runs: whole runs (every event but session_end) with the
full-run classifier, and prefixes at 25, 50 and 75 % of each run's steps with the early-warning model, featurised
from the events up to the cut only.

Baselines on the same folds: ``class_prior`` (the training folds' success rate for every run: AUROC 0.5 by
construction, its Brier score is the bar to beat) and ``length_only`` (a logistic regression on ``log1p`` of the
steps seen so far: the run's length on full runs, the prefix's length at a cut). Remaining steps and seconds are
scored by mean absolute error at each cut, seconds only on runs with recorded timestamps.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from escai.analysis.predict.cv import grouped_folds
from escai.analysis.predict.dataset import OutcomeRun, has_recorded_times, step_times
from escai.analysis.predict.early_warning import EarlyWarningModel, prefix_rows
from escai.analysis.predict.features import FeatureExtractor, FloatMatrix, prefix_step_count
from escai.analysis.predict.models import SuccessClassifier, Vector
from escai.analysis.predict.training import TrainingOptions, check_trainable, full_rows_of

DEFAULT_FOLDS = 5
CUTS = (0.25, 0.5, 0.75)
"""Where held-out runs are cut for the early-warning figures."""
CALIBRATION_BINS = 10


def auroc(labels: Vector, scores: Vector) -> float | None:
    """Area under the ROC curve, or None when only one outcome is present."""
    if len(set(labels.tolist())) < 2:
        return None
    return float(roc_auc_score(labels, scores))


def brier(labels: Vector, probabilities: Vector) -> float:
    """Mean squared error of probabilities against 0/1 outcomes."""
    return float(brier_score_loss(labels, np.clip(probabilities, 0.0, 1.0)))


def calibration_bins(labels: Vector, probabilities: Vector, bins: int = CALIBRATION_BINS) -> list[dict[str, float]]:
    """Reliability table: per probability bin, the mean prediction, the observed success rate and the count."""
    table = []
    edges = np.linspace(0, 1, bins + 1)
    for low, high in itertools.pairwise(edges):
        inside = (probabilities >= low) & ((probabilities < high) if high < 1 else (probabilities <= high))
        if inside.any():
            table.append(
                {
                    "low": float(low),
                    "high": float(high),
                    "mean_predicted": float(probabilities[inside].mean()),
                    "observed": float(labels[inside].mean()),
                    "count": int(inside.sum()),
                }
            )
    return table


@dataclass(slots=True)
class Scores:
    """AUROC and Brier of one predictor on full runs and at each cut."""

    auroc: float | None
    brier: float
    auroc_at: dict[str, float | None]
    brier_at: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"auroc": self.auroc, "brier": self.brier, "auroc_at": self.auroc_at, "brier_at": self.brier_at}


def _scores(labels: Vector, full: Vector, at: dict[float, Vector]) -> Scores:
    return Scores(
        auroc(labels, full),
        brier(labels, full),
        {_key(cut): auroc(labels, values) for cut, values in at.items()},
        {_key(cut): brier(labels, values) for cut, values in at.items()},
    )


def _key(cut: float) -> str:
    return str(cut)


@dataclass(slots=True)
class PredictionReport:
    """Everything ``escai eval prediction`` prints."""

    n: int
    positives: int
    groups: int
    folds: int
    method: Scores
    baselines: dict[str, Scores]
    members: dict[str, Scores]
    remaining_steps_mae_at: dict[str, float]
    remaining_seconds_mae_at: dict[str, float] | None
    timed_runs: int
    calibration: list[dict[str, float]]
    probabilities: list[float] = field(default_factory=list)
    """Out-of-fold full-run probabilities, in run order (for calibration plots)."""
    labels: list[int] = field(default_factory=list)
    unlabelled: int = 0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of ``--json``: ``n``, ``auroc``, ``brier``, ``auroc_at``, ``baselines`` and more."""
        return {
            "n": self.n,
            "positives": self.positives,
            "groups": self.groups,
            "folds": self.folds,
            "seed": self.seed,
            "auroc": self.method.auroc,
            "brier": self.method.brier,
            "auroc_at": self.method.auroc_at,
            "brier_at": self.method.brier_at,
            "baselines": {name: scores.as_dict() for name, scores in self.baselines.items()},
            "models": {name: scores.as_dict() for name, scores in self.members.items()},
            "remaining_steps_mae_at": self.remaining_steps_mae_at,
            "remaining_seconds_mae_at": self.remaining_seconds_mae_at,
            "timed_runs": self.timed_runs,
            "calibration": self.calibration,
            "unlabelled": self.unlabelled,
        }


@dataclass(slots=True)
class _HeldOut:
    """Per-run features and truths that do not depend on the fold."""

    full: FloatMatrix
    at: dict[float, FloatMatrix]
    steps_full: Vector
    steps_at: dict[float, Vector]
    remaining_steps_at: dict[float, Vector]
    remaining_seconds_at: dict[float, Vector]


def _held_out_features(runs: Sequence[OutcomeRun], extractor: FeatureExtractor, full: FloatMatrix) -> _HeldOut:
    at: dict[float, list[FloatMatrix]] = {cut: [] for cut in CUTS}
    steps_at: dict[float, list[float]] = {cut: [] for cut in CUTS}
    left_steps: dict[float, list[float]] = {cut: [] for cut in CUTS}
    left_seconds: dict[float, list[float]] = {cut: [] for cut in CUTS}
    totals = []
    for run in runs:
        times = step_times(run.events)
        total = len(times)
        totals.append(float(total))
        counts = [prefix_step_count(total, cut) for cut in CUTS]
        rows = extractor.extract_at(run.events, counts)
        timed = has_recorded_times(run.events)
        for position, cut in enumerate(CUTS):
            at[cut].append(rows[position])
            steps_at[cut].append(float(counts[position]))
            left_steps[cut].append(float(total - counts[position]))
            seconds = (times[-1] - times[counts[position] - 1]).total_seconds() if timed and total else math.nan
            left_seconds[cut].append(seconds)
    return _HeldOut(
        full,
        {cut: np.vstack(rows) for cut, rows in at.items()},
        np.array(totals),
        {cut: np.array(values) for cut, values in steps_at.items()},
        {cut: np.array(values) for cut, values in left_steps.items()},
        {cut: np.array(values) for cut, values in left_seconds.items()},
    )


def _length_model(steps: Vector, labels: Vector, weights: Vector | None = None) -> LogisticRegression | None:
    if len(set(labels.tolist())) < 2:
        return None
    return LogisticRegression().fit(np.log1p(steps).reshape(-1, 1), labels, sample_weight=weights)


def _length_predict(model: LogisticRegression | None, steps: Vector, prior: float) -> Vector:
    if model is None:
        return np.full(len(steps), prior)
    return np.asarray(model.predict_proba(np.log1p(steps).reshape(-1, 1))[:, 1], dtype=np.float64)


def evaluate_prediction(
    runs: Sequence[OutcomeRun],
    *,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    options: TrainingOptions | None = None,
) -> PredictionReport:
    """Grouped cross-validation of the predictor and the baselines on ``runs`` (see the module docstring)."""
    check_trainable(runs)
    options = options or TrainingOptions(seed=seed)
    extractor = FeatureExtractor(options.feature_groups)
    labels = np.array([float(run.success) for run in runs])
    groups = [run.group for run in runs]
    training_rows = prefix_rows(runs, extractor)
    held = _held_out_features(runs, extractor, full_rows_of(training_rows, runs, extractor))
    count = len(runs)
    method_full, prior_full, length_full = np.zeros(count), np.zeros(count), np.zeros(count)
    member_full: dict[str, Vector] = {name: np.zeros(count) for name in options.members}
    method_at = {cut: np.zeros(count) for cut in CUTS}
    prior_at = {cut: np.zeros(count) for cut in CUTS}
    length_at = {cut: np.zeros(count) for cut in CUTS}
    member_at = {name: {cut: np.zeros(count) for cut in CUTS} for name in options.members}
    steps_pred = {cut: np.zeros(count) for cut in CUTS}
    seconds_pred = {cut: np.full(count, math.nan) for cut in CUTS}
    splits = grouped_folds(groups, labels, folds, seed)
    for train, test in splits:
        train_groups = [groups[index] for index in train]
        prior = float(labels[train].mean())
        full = SuccessClassifier(options.members, options.calibration, seed, word_columns=training_rows.word_columns)
        full.fit(held.full[train], labels[train], train_groups)
        method_full[test] = full.predict_proba(held.full[test])
        for name, values in full.member_probabilities(held.full[test]).items():
            member_full[name][test] = values
        prior_full[test] = prior
        length_full[test] = _length_predict(
            _length_model(held.steps_full[train], labels[train]), held.steps_full[test], prior
        )
        rows = training_rows.subset({int(index) for index in train})
        early = EarlyWarningModel.fit_rows(rows, seed=seed, calibration=options.calibration, members=options.members)
        prefix_length = _length_model(rows.steps_seen, rows.labels, rows.weights)
        for cut in CUTS:
            matrix = held.at[cut][test]
            method_at[cut][test] = early.classifier.predict_proba(matrix)
            for name, values in early.classifier.member_probabilities(matrix).items():
                member_at[name][cut][test] = values
            prior_at[cut][test] = prior
            length_at[cut][test] = _length_predict(prefix_length, held.steps_at[cut][test], prior)
            if early.remaining_steps is not None:
                steps_pred[cut][test] = early.remaining_steps.predict(matrix)[0]
            if early.remaining_seconds is not None:
                seconds_pred[cut][test] = early.remaining_seconds.predict(matrix)[0]
    timed = np.array([has_recorded_times(run.events) for run in runs])
    seconds_mae: dict[str, float] | None = None
    if timed.any() and not np.isnan(seconds_pred[CUTS[0]][timed]).all():
        seconds_mae = {
            _key(cut): float(np.nanmean(np.abs(seconds_pred[cut][timed] - held.remaining_seconds_at[cut][timed])))
            for cut in CUTS
        }
    return PredictionReport(
        n=count,
        positives=int(labels.sum()),
        groups=len(set(groups)),
        folds=len(splits),
        method=_scores(labels, method_full, method_at),
        baselines={
            "class_prior": _scores(labels, prior_full, prior_at),
            "length_only": _scores(labels, length_full, length_at),
        },
        members={name: _scores(labels, member_full[name], member_at[name]) for name in options.members},
        remaining_steps_mae_at={
            _key(cut): float(np.mean(np.abs(steps_pred[cut] - held.remaining_steps_at[cut]))) for cut in CUTS
        },
        remaining_seconds_mae_at=seconds_mae,
        timed_runs=int(timed.sum()),
        calibration=calibration_bins(labels, method_full),
        probabilities=[float(value) for value in method_full],
        labels=[int(value) for value in labels],
        seed=seed,
    )
