"""The early-warning model: success probability, remaining steps and remaining time from a *prefix* of a run.

Training rows are prefixes of finished runs at :data:`PREFIX_FRACTIONS` of their steps, each featurised from the
events up to the cut only; a run's rows share its weight (1 in total), so long runs do not dominate. Remaining
steps and seconds are LightGBM regressions on ``log1p`` of the remainder, with an interval from the quantiles of
grouped out-of-fold residuals. Remaining seconds are only learned from runs whose timestamps are recorded (see
:func:`~escai.analysis.predict.dataset.has_recorded_times`); without enough of them the model predicts no time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from escai.analysis.predict.calibration import CalibrationMethod
from escai.analysis.predict.cv import grouped_folds
from escai.analysis.predict.dataset import OutcomeRun, has_recorded_times, step_times
from escai.analysis.predict.feature_words import word_columns
from escai.analysis.predict.features import FeatureExtractor, FloatMatrix, columns_except, prefix_step_count
from escai.analysis.predict.models import DEFAULT_MEMBERS, BoostingModel, SuccessClassifier, Vector

PREFIX_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
"""Where training runs are cut."""
INTERVAL_QUANTILES = (0.1, 0.9)
"""The remaining-steps and remaining-time intervals cover 80 % of out-of-fold residuals."""
MIN_TIMED_RUNS = 10
"""Fewer runs with recorded times than this: no remaining-time model."""
DEFAULT_WARN_THRESHOLD = 0.5
"""Warn when the calibrated failure risk reaches this."""


@dataclass(slots=True)
class PrefixRows:
    """Featurised prefixes of runs, with what remained after each cut."""

    matrix: FloatMatrix
    labels: Vector
    groups: list[str]
    weights: Vector
    remaining_steps: Vector
    remaining_seconds: Vector
    """NaN where the run's timestamps are not recorded."""
    steps_seen: Vector
    run_index: npt.NDArray[np.intp]
    """Which of the given runs each row was cut from."""
    word_columns: list[int] = field(default_factory=list)
    """Columns of the hashed word bag (read by the ``words`` member only)."""

    def subset(self, runs: set[int]) -> PrefixRows:
        """Only the rows cut from the runs with these indexes."""
        keep = np.array([int(index) in runs for index in self.run_index], dtype=bool)
        return PrefixRows(
            self.matrix[keep],
            self.labels[keep],
            [group for group, kept in zip(self.groups, keep, strict=True) if kept],
            self.weights[keep],
            self.remaining_steps[keep],
            self.remaining_seconds[keep],
            self.steps_seen[keep],
            self.run_index[keep],
            self.word_columns,
        )


def prefix_rows(
    runs: Sequence[OutcomeRun], extractor: FeatureExtractor, fractions: Sequence[float] = PREFIX_FRACTIONS
) -> PrefixRows:
    """Feature rows of every run cut at each fraction (duplicate cuts of short runs counted once)."""
    blocks: list[FloatMatrix] = []
    labels: list[float] = []
    groups: list[str] = []
    weights: list[float] = []
    remaining_steps: list[float] = []
    remaining_seconds: list[float] = []
    steps_seen: list[float] = []
    run_index: list[int] = []
    for position, run in enumerate(runs):
        times = step_times(run.events)
        total = len(times)
        if total == 0:
            continue
        counts = sorted({prefix_step_count(total, fraction) for fraction in fractions})
        blocks.append(extractor.extract_at(run.events, counts))
        timed = has_recorded_times(run.events)
        for count in counts:
            labels.append(float(run.success))
            groups.append(run.group)
            weights.append(1.0 / len(counts))
            remaining_steps.append(float(total - count))
            remaining_seconds.append((times[-1] - times[count - 1]).total_seconds() if timed else math.nan)
            steps_seen.append(float(count))
            run_index.append(position)
    width = len(extractor.names)
    return PrefixRows(
        np.vstack(blocks) if blocks else np.zeros((0, width)),
        np.array(labels),
        groups,
        np.array(weights),
        np.array(remaining_steps),
        np.array(remaining_seconds),
        np.array(steps_seen),
        np.array(run_index, dtype=np.intp),
        word_columns(extractor.names),
    )


@dataclass(slots=True)
class RemainderModel:
    """A regression of ``log1p(remaining)`` with an interval from out-of-fold residual quantiles."""

    model: BoostingModel
    low: float
    """Residual quantile (log scale) added for the lower bound."""
    high: float
    columns: list[int] | None = None
    """Feature columns the regression reads (None: all of them)."""

    def predict(self, matrix: FloatMatrix) -> tuple[Vector, Vector, Vector]:
        """Point estimate, lower and upper bound of the remainder per row (never negative)."""
        centre = self.model.score(matrix if self.columns is None else matrix[:, self.columns])
        return tuple(np.maximum(0.0, np.expm1(centre + shift)) for shift in (0.0, self.low, self.high))  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"model": self.model.to_dict(), "low": self.low, "high": self.high, "columns": self.columns}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RemainderModel:
        """The model :meth:`to_dict` wrote."""
        columns = data.get("columns")
        return cls(
            BoostingModel.from_dict(data["model"]),
            float(data["low"]),
            float(data["high"]),
            None if columns is None else [int(column) for column in columns],
        )


def fit_remainder(
    matrix: FloatMatrix,
    target: Vector,
    groups: Sequence[str],
    weights: Vector,
    seed: int = 0,
    columns: list[int] | None = None,
) -> RemainderModel:
    """Fit a remainder regression on ``log1p(target)`` and its residual interval on grouped out-of-fold errors.

    ``columns`` limits the regression to those features (the word bag is left to the ``words`` member).
    """
    if columns is not None:
        matrix = matrix[:, columns]
    logged = np.log1p(np.maximum(0.0, target))
    residuals = np.zeros(0)
    if len(set(groups)) >= 3:
        oof = np.zeros(len(logged))
        for train, test in grouped_folds(groups, np.zeros(len(logged)), 3, seed):
            fold_model = BoostingModel(seed, objective="regression")
            fold_model.fit(matrix[train], logged[train], weights[train])
            oof[test] = fold_model.score(matrix[test])
        residuals = logged - oof
    model = BoostingModel(seed, objective="regression")
    model.fit(matrix, logged, weights)
    low, high = (float(np.quantile(residuals, q)) for q in INTERVAL_QUANTILES) if residuals.size else (0.0, 0.0)
    return RemainderModel(model, low, high, columns)


@dataclass(slots=True)
class EarlyWarningModel:
    """Success probability, remaining steps and remaining seconds from the events seen so far."""

    classifier: SuccessClassifier
    remaining_steps: RemainderModel | None = None
    remaining_seconds: RemainderModel | None = None
    warn_threshold: float = DEFAULT_WARN_THRESHOLD
    fractions: tuple[float, ...] = field(default=PREFIX_FRACTIONS)

    @classmethod
    def train(
        cls,
        runs: Sequence[OutcomeRun],
        extractor: FeatureExtractor,
        *,
        seed: int = 0,
        calibration: CalibrationMethod = "sigmoid",
        members: Sequence[str] = DEFAULT_MEMBERS,
    ) -> EarlyWarningModel:
        """Train on prefixes of finished runs."""
        return cls.fit_rows(prefix_rows(runs, extractor), seed=seed, calibration=calibration, members=members)

    @classmethod
    def fit_rows(
        cls,
        rows: PrefixRows,
        *,
        seed: int = 0,
        calibration: CalibrationMethod = "sigmoid",
        members: Sequence[str] = DEFAULT_MEMBERS,
    ) -> EarlyWarningModel:
        """Train on already featurised prefix rows."""
        classifier = SuccessClassifier(members, calibration, seed, word_columns=rows.word_columns).fit(
            rows.matrix, rows.labels, rows.groups, rows.weights
        )
        dense = columns_except(rows.matrix.shape[1], rows.word_columns)
        steps = fit_remainder(rows.matrix, rows.remaining_steps, rows.groups, rows.weights, seed, dense)
        timed = ~np.isnan(rows.remaining_seconds)
        seconds = None
        timed_groups = [group for group, keep in zip(rows.groups, timed, strict=True) if keep]
        if len(set(timed_groups)) >= MIN_TIMED_RUNS:
            seconds = fit_remainder(
                rows.matrix[timed], rows.remaining_seconds[timed], timed_groups, rows.weights[timed], seed, dense
            )
        return cls(classifier, steps, seconds)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "classifier": self.classifier.to_dict(),
            "remaining_steps": None if self.remaining_steps is None else self.remaining_steps.to_dict(),
            "remaining_seconds": None if self.remaining_seconds is None else self.remaining_seconds.to_dict(),
            "warn_threshold": self.warn_threshold,
            "fractions": list(self.fractions),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EarlyWarningModel:
        """The model :meth:`to_dict` wrote."""
        steps, seconds = data.get("remaining_steps"), data.get("remaining_seconds")
        return cls(
            SuccessClassifier.from_dict(data["classifier"]),
            None if steps is None else RemainderModel.from_dict(steps),
            None if seconds is None else RemainderModel.from_dict(seconds),
            float(data["warn_threshold"]),
            tuple(float(value) for value in data["fractions"]),
        )
