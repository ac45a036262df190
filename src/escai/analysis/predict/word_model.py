"""The ``words`` member: a logistic regression over TF-IDF weights of the hashed word bag.

It reads only the word-bucket columns (:mod:`~escai.analysis.predict.feature_words`): counts become ``1 + log``
(sublinear term frequency), are weighted by the inverse document frequency learned from the training rows and
scaled to unit length per row, the usual text-classification recipe. It is linear, so each bucket's contribution
to a score is its coefficient times its weight, which the explanation engine cites like any other driver.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from escai.analysis.predict.calibration import prior_log_odds

FloatMatrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]
WORD_REGULARISATION = 1.0
"""Inverse L2 strength (scikit-learn's default; TF-IDF rows are unit length, so no further scaling is needed)."""


class WordsModel:
    """Logistic regression on TF-IDF-weighted word buckets."""

    name = "words"

    def __init__(self, regularisation: float = WORD_REGULARISATION) -> None:
        self.regularisation = regularisation
        self.idf: Vector = np.zeros(0)
        self.coef: Vector = np.zeros(0)
        self.intercept = 0.0

    def _weights(self, matrix: FloatMatrix) -> FloatMatrix:
        counts = np.maximum(matrix, 0.0)
        frequency = np.where(counts > 0, 1.0 + np.log(np.where(counts > 0, counts, 1.0)), 0.0) * self.idf
        norms = np.linalg.norm(frequency, axis=1, keepdims=True)
        result: FloatMatrix = frequency / np.where(norms > 0, norms, 1.0)
        return result

    def fit(self, matrix: FloatMatrix, labels: Vector, weights: Vector | None = None) -> None:
        """Learn the document frequencies and the coefficients."""
        rows = matrix.shape[0]
        present = (matrix > 0).sum(axis=0)
        self.idf = np.log((1.0 + rows) / (1.0 + present)) + 1.0
        if len(set(labels.tolist())) < 2:  # one class only: the prior is all there is to learn
            self.coef = np.zeros(matrix.shape[1])
            self.intercept = prior_log_odds(labels)
            return
        model = LogisticRegression(C=self.regularisation, max_iter=5000)
        model.fit(self._weights(matrix), labels, sample_weight=weights)
        self.coef = np.asarray(model.coef_[0], dtype=np.float64)
        self.intercept = float(model.intercept_[0])

    def score(self, matrix: FloatMatrix) -> Vector:
        """Log-odds of success."""
        result: Vector = self._weights(matrix) @ self.coef + self.intercept
        return result

    def contributions(self, matrix: FloatMatrix) -> FloatMatrix:
        """Coefficient times TF-IDF weight of each bucket."""
        result: FloatMatrix = self._weights(matrix) * self.coef
        return result

    def importances(self) -> Vector:
        """Absolute coefficients scaled by the inverse document frequency (rare strong words count more)."""
        result: Vector = np.abs(self.coef) * self.idf
        return result

    def to_dict(self) -> dict[str, Any]:
        """Coefficients and document frequencies."""
        return {
            "kind": self.name,
            "regularisation": self.regularisation,
            "idf": self.idf.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WordsModel:
        """The model :meth:`to_dict` wrote."""
        model = cls(float(data["regularisation"]))
        model.idf = np.asarray(data["idf"], dtype=np.float64)
        model.coef = np.asarray(data["coef"], dtype=np.float64)
        model.intercept = float(data["intercept"])
        return model
