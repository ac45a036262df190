"""Training the predictor: a full-run success classifier, the early-warning prefix model and the drift reference,
bundled as :class:`PredictorModels` (what the registry stores and the predictor loads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from escai.analysis.predict.calibration import CalibrationMethod
from escai.analysis.predict.dataset import OutcomeRun
from escai.analysis.predict.drift import DriftReference
from escai.analysis.predict.early_warning import EarlyWarningModel, PrefixRows, prefix_rows
from escai.analysis.predict.feature_words import word_columns
from escai.analysis.predict.features import DEFAULT_GROUPS, FeatureExtractor, FloatMatrix, columns_except
from escai.analysis.predict.models import DEFAULT_MEMBERS, SuccessClassifier

MIN_TRAINING_RUNS = 10
"""Fewer runs than this (or only one outcome, or a single task) cannot train a model."""


class NotEnoughRunsError(ValueError):
    """The runs given cannot train a model: too few, a single outcome, or a single task."""


@dataclass(frozen=True, slots=True)
class TrainingOptions:
    """How to train: feature groups, member models, calibration and seed."""

    feature_groups: tuple[str, ...] = DEFAULT_GROUPS
    members: tuple[str, ...] = DEFAULT_MEMBERS
    calibration: CalibrationMethod = "sigmoid"
    seed: int = 0


@dataclass(slots=True)
class PredictorModels:
    """Everything a predictor needs: the feature layout, both models and the drift reference."""

    feature_groups: tuple[str, ...]
    feature_names: tuple[str, ...]
    full: SuccessClassifier
    early: EarlyWarningModel
    reference: DriftReference
    version: str = "unsaved"

    def extractor(self) -> FeatureExtractor:
        """A feature extractor with the layout the models were trained on."""
        extractor = FeatureExtractor(self.feature_groups)
        if extractor.names != self.feature_names:
            raise ValueError("the registered feature groups no longer produce the features this model was trained on")
        return extractor

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "feature_groups": list(self.feature_groups),
            "feature_names": list(self.feature_names),
            "full": self.full.to_dict(),
            "early": self.early.to_dict(),
            "reference": self.reference.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], version: str = "unsaved") -> PredictorModels:
        """The bundle :meth:`to_dict` wrote."""
        return cls(
            tuple(data["feature_groups"]),
            tuple(data["feature_names"]),
            SuccessClassifier.from_dict(data["full"]),
            EarlyWarningModel.from_dict(data["early"]),
            DriftReference.from_dict(data["reference"]),
            version,
        )


def check_trainable(runs: Sequence[OutcomeRun]) -> None:
    """Raise :class:`NotEnoughRunsError` when ``runs`` cannot train a model."""
    outcomes = {run.success for run in runs}
    if len(runs) < MIN_TRAINING_RUNS:
        raise NotEnoughRunsError(f"{len(runs)} runs with an outcome; at least {MIN_TRAINING_RUNS} are needed")
    if len(outcomes) < 2:
        raise NotEnoughRunsError("every run has the same outcome; successes and failures are both needed")
    if len({run.group for run in runs}) < 2:
        raise NotEnoughRunsError("every run has the same task; at least two distinct tasks are needed")


def full_run_matrix(runs: Sequence[OutcomeRun], extractor: FeatureExtractor) -> FloatMatrix:
    """Feature rows of whole runs (everything but the session_end event)."""
    if not runs:
        return np.zeros((0, len(extractor.names)))
    return np.vstack([extractor.extract(run.events) for run in runs])


def full_rows_of(rows: PrefixRows, runs: Sequence[OutcomeRun], extractor: FeatureExtractor) -> FloatMatrix:
    """Feature rows of whole runs, taken from their prefix rows where the prefix is the whole run.

    A prefix at 100 % of a run's steps reads exactly what :meth:`FeatureExtractor.extract` reads (everything but
    the session_end event), so reusing it saves a second pass over every run (the epistemic group makes passes
    costly); runs without steps, which have no prefix rows, are extracted directly.
    """
    full: dict[int, FloatMatrix] = {}
    for row, index in enumerate(rows.run_index):
        if rows.remaining_steps[row] == 0:
            full[int(index)] = rows.matrix[row]
    if not runs:
        return np.zeros((0, len(extractor.names)))
    return np.vstack(
        [full[index] if index in full else extractor.extract(run.events) for index, run in enumerate(runs)]
    )


def train_models(runs: Sequence[OutcomeRun], options: TrainingOptions | None = None) -> PredictorModels:
    """Train the full-run classifier, the early-warning model and the drift reference on ``runs``."""
    options = options or TrainingOptions()
    check_trainable(runs)
    extractor = FeatureExtractor(options.feature_groups)
    rows = prefix_rows(runs, extractor)
    matrix = full_rows_of(rows, runs, extractor)
    labels = np.array([float(run.success) for run in runs])
    groups = [run.group for run in runs]
    full = SuccessClassifier(
        options.members, options.calibration, options.seed, word_columns=word_columns(extractor.names)
    ).fit(matrix, labels, groups)
    early = EarlyWarningModel.fit_rows(
        rows, seed=options.seed, calibration=options.calibration, members=options.members
    )
    # The word bag is thousands of mostly-zero buckets: its drift says nothing a reader could act on.
    dense = columns_except(len(extractor.names), word_columns(extractor.names))
    reference = DriftReference.fit(matrix, extractor.names, columns=dense)
    return PredictorModels(options.feature_groups, extractor.names, full, early, reference)
