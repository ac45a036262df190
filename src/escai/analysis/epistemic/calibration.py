"""Calibration of the agent's confidence: a map from a state's confidence components to P(success).

The raw confidence is what the agent shows (its words, its actions' results); whether that predicts success differs
by domain: on tau-bench, failing agents write *more* assured text than succeeding ones (docs/epistemic.md). A
calibrator is a regularised logistic regression over the state's named components, fitted on sessions whose outcome
was recorded; it is stored as plain JSON coefficients (no pickles), and :class:`EpistemicTracker` applies it when
given one, keeping the raw value in ``signals["raw_confidence"]``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

FEATURES = (
    "text_certainty",
    "action_success",
    "goal_progress",
    "repetition",
    "conflict",
    "hedge_rate",
    "belief_entropy",
    "steps",
    "failures",
    "conflicting_revisions",
    "revisions",
)
REGULARISATION = 0.1
_COUNTS = frozenset({"steps", "failures", "conflicting_revisions", "revisions"})


def feature_vector(signals: Mapping[str, float]) -> list[float]:
    """The calibrator's inputs from a state's signals (counts on a log scale)."""
    return [
        math.log1p(signals.get(name, 0.0)) if name in _COUNTS else float(signals.get(name, 0.0)) for name in FEATURES
    ]


@dataclass(frozen=True, slots=True)
class ConfidenceCalibrator:
    """A fitted logistic map from confidence components to the probability of success."""

    coefficients: tuple[float, ...]
    intercept: float
    means: tuple[float, ...]
    scales: tuple[float, ...]
    trained_on: int
    fitted_at: str

    def calibrate(self, signals: Mapping[str, float]) -> float:
        """P(success) for a state with these signals, in [0.01, 0.99]."""
        values = feature_vector(signals)
        logit = self.intercept + sum(
            weight * (value - mean) / scale
            for weight, value, mean, scale in zip(self.coefficients, values, self.means, self.scales, strict=True)
        )
        probability = 1 / (1 + math.exp(-max(-30.0, min(30.0, logit))))
        return round(min(0.99, max(0.01, probability)), 4)

    def save(self, path: Path) -> None:
        """Write the calibrator as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"features": FEATURES, **asdict(self)}, indent=2))

    @classmethod
    def load(cls, path: Path) -> ConfidenceCalibrator:
        """Read a calibrator written by :meth:`save`; refuses one made for other features."""
        document = json.loads(path.read_text())
        if tuple(document.pop("features", ())) != FEATURES:
            raise ValueError(f"{path} was fitted on other confidence components; fit it again")
        return cls(
            coefficients=tuple(document["coefficients"]),
            intercept=float(document["intercept"]),
            means=tuple(document["means"]),
            scales=tuple(document["scales"]),
            trained_on=int(document["trained_on"]),
            fitted_at=str(document["fitted_at"]),
        )


def fit_calibrator(
    examples: Sequence[tuple[Mapping[str, float], bool]], *, regularisation: float = REGULARISATION
) -> ConfidenceCalibrator:
    """Fit on (signals of a state, whether its session succeeded); both outcomes must be present.

    ``regularisation`` is the inverse L2 strength (scikit-learn's ``C``): small, because a few hundred labelled
    sessions cannot support eleven free weights.
    """
    outcomes = np.asarray([int(success) for _, success in examples])
    if len(set(outcomes.tolist())) < 2:
        raise ValueError("calibration needs sessions of both outcomes (successes and failures)")
    matrix = np.asarray([feature_vector(signals) for signals, _ in examples])
    scaler = StandardScaler().fit(matrix)
    scales = np.where(scaler.scale_ == 0, 1.0, scaler.scale_)
    model = LogisticRegression(C=regularisation, max_iter=1000).fit((matrix - scaler.mean_) / scales, outcomes)
    return ConfidenceCalibrator(
        coefficients=tuple(float(value) for value in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        means=tuple(float(value) for value in scaler.mean_),
        scales=tuple(float(value) for value in scales),
        trained_on=len(examples),
        fitted_at=datetime.now(UTC).isoformat(),
    )
