"""Probability calibration: raw log-odds mapped to probabilities that mean what they say.

Platt scaling (``sigmoid``: a logistic regression on the score) suits the few hundred labelled runs ESCAI usually
has; ``isotonic`` regression is available for larger sets. Calibrators are fitted on out-of-fold scores (see
:class:`~escai.analysis.predict.models.SuccessClassifier`) and stored as plain numbers.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

Vector = npt.NDArray[np.float64]
CalibrationMethod = Literal["sigmoid", "isotonic", "none"]


def sigmoid(values: Vector) -> Vector:
    """The logistic function, clipped so extreme scores do not overflow."""
    result: Vector = 1.0 / (1.0 + np.exp(-np.clip(values, -30, 30)))
    return result


class Calibrator:
    """Maps raw log-odds to calibrated probabilities: Platt scaling (``sigmoid``) or ``isotonic`` regression."""

    def __init__(self, method: CalibrationMethod = "sigmoid") -> None:
        self.method = method
        self.slope = 1.0
        self.offset = 0.0
        self.thresholds: list[float] = []
        self.values: list[float] = []

    def fit(self, scores: Vector, labels: Vector) -> Calibrator:
        """Fit the mapping on out-of-fold scores and their labels."""
        if self.method == "none" or len(set(labels.tolist())) < 2:
            return self
        if self.method == "sigmoid":
            model = LogisticRegression(C=1e4, max_iter=1000).fit(scores.reshape(-1, 1), labels)
            self.slope = float(model.coef_[0][0])
            self.offset = float(model.intercept_[0])
        else:
            isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels)
            self.thresholds = [float(value) for value in isotonic.X_thresholds_]
            self.values = [float(value) for value in isotonic.y_thresholds_]
        return self

    def apply(self, scores: Vector) -> Vector:
        """Calibrated probabilities of success."""
        if self.method == "isotonic" and self.thresholds:
            result: Vector = np.interp(scores, self.thresholds, self.values)
            return np.clip(result, 0.0, 1.0)
        return sigmoid(self.slope * scores + self.offset)

    def to_dict(self) -> dict[str, Any]:
        """Parameters as JSON-ready data."""
        return {
            "method": self.method,
            "slope": self.slope,
            "offset": self.offset,
            "thresholds": self.thresholds,
            "values": self.values,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """The calibrator :meth:`to_dict` wrote."""
        calibrator = cls(data["method"])
        calibrator.slope = float(data["slope"])
        calibrator.offset = float(data["offset"])
        calibrator.thresholds = [float(value) for value in data["thresholds"]]
        calibrator.values = [float(value) for value in data["values"]]
        return calibrator


_PRIOR_EPSILON = 1e-6


def prior_log_odds(labels: npt.NDArray[np.float64]) -> float:
    """Log-odds of the labels' success rate (0.5 without labels), clipped: what a one-outcome model predicts."""
    share = float(labels.mean()) if len(labels) else 0.5
    clipped = min(1 - _PRIOR_EPSILON, max(_PRIOR_EPSILON, share))
    return math.log(clipped / (1 - clipped))
