"""Feature drift on incoming sessions and the retraining trigger.

The reference is the training data's distribution of each feature, as quantile bins (deciles, merged where values
repeat). Incoming sessions' features are binned the same way and compared with the population stability index,
``PSI = sum((actual - expected) * ln(actual / expected))`` over bins. The usual reading: below 0.1 stable, 0.1 to
0.25 a moderate shift, above 0.25 a significant one. Retraining is due when enough features shifted
significantly, or when many new labelled sessions arrived since the model was trained.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from escai.analysis.predict.features import FloatMatrix

REFERENCE_BINS = 10
PSI_SIGNIFICANT = 0.25
"""A feature whose PSI reaches this has drifted."""
_SMOOTHING = 1e-4  # keeps empty bins from making PSI infinite


@dataclass(frozen=True, slots=True)
class FeatureReference:
    """The training distribution of one feature: inner bin edges and the share of rows in each bin."""

    name: str
    edges: tuple[float, ...]
    shares: tuple[float, ...]
    column: int = -1
    """Position of the feature in the model's vector (-1 in references saved before it was recorded: in order)."""

    def bin_shares(self, values: Sequence[float] | np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The share of ``values`` falling into each of this feature's bins."""
        indexes = np.searchsorted(np.asarray(self.edges), np.asarray(values, dtype=np.float64), side="right")
        counts = np.bincount(indexes, minlength=len(self.shares)).astype(np.float64)
        shares: np.ndarray[Any, np.dtype[np.float64]] = counts / max(1.0, counts.sum())
        return shares


def population_stability(expected: Sequence[float], actual: Sequence[float]) -> float:
    """The PSI of two distributions over the same bins."""
    total = 0.0
    for expected_share, actual_share in zip(expected, actual, strict=True):
        smoothed_expected = max(expected_share, _SMOOTHING)
        smoothed_actual = max(actual_share, _SMOOTHING)
        total += (smoothed_actual - smoothed_expected) * math.log(smoothed_actual / smoothed_expected)
    return total


@dataclass(frozen=True, slots=True)
class DriftReference:
    """Training distributions of every feature."""

    features: tuple[FeatureReference, ...]

    @classmethod
    def fit(
        cls,
        matrix: FloatMatrix,
        names: Sequence[str],
        bins: int = REFERENCE_BINS,
        columns: Sequence[int] | None = None,
    ) -> DriftReference:
        """Quantile bins of each column of the training matrix (only ``columns``, when given)."""
        references = []
        for column in range(len(names)) if columns is None else columns:
            name = names[column]
            values = matrix[:, column] if matrix.size else np.zeros(0)
            quantiles = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]) if values.size else np.zeros(0)
            edges = tuple(sorted({float(value) for value in quantiles}))
            reference = FeatureReference(name, edges, tuple([0.0] * (len(edges) + 1)))
            shares = reference.bin_shares(values) if values.size else np.zeros(len(edges) + 1)
            references.append(FeatureReference(name, edges, tuple(float(share) for share in shares), column))
        return cls(tuple(references))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "features": [
                {"name": item.name, "edges": list(item.edges), "shares": list(item.shares), "column": item.column}
                for item in self.features
            ]
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReference:
        """The reference :meth:`to_dict` wrote."""
        return cls(
            tuple(
                FeatureReference(item["name"], tuple(item["edges"]), tuple(item["shares"]), int(item.get("column", -1)))
                for item in data["features"]
            )
        )


@dataclass(frozen=True, slots=True)
class DriftReport:
    """How incoming sessions' features compare with the training data."""

    sessions: int
    psi: dict[str, float]
    drifted: list[str]
    """Features whose PSI reached the threshold, largest shift first."""
    drifted_share: float
    retrain: bool
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "sessions": self.sessions,
            "psi": self.psi,
            "drifted": self.drifted,
            "drifted_share": self.drifted_share,
            "retrain": self.retrain,
            "reasons": self.reasons,
        }


@dataclass(frozen=True, slots=True)
class RetrainingPolicy:
    """When to retrain: on feature drift, or on enough new labelled sessions."""

    psi_threshold: float = PSI_SIGNIFICANT
    drifted_share: float = 0.2
    """Retrain when at least this share of features drifted."""
    min_sessions: int = 20
    """Drift is not judged on fewer incoming sessions than this (PSI of a handful of rows is noise)."""
    new_labelled_share: float = 0.5
    """Retrain when new labelled sessions reach this share of the training set."""


def check_drift(
    reference: DriftReference,
    incoming: FloatMatrix,
    *,
    policy: RetrainingPolicy | None = None,
    new_labelled: int = 0,
    trained_on: int = 0,
) -> DriftReport:
    """PSI of every feature between the reference and ``incoming`` rows, and whether retraining is due."""
    policy = policy or RetrainingPolicy()
    psi: dict[str, float] = {}
    if incoming.shape[0]:
        for position, feature in enumerate(reference.features):
            column = feature.column if feature.column >= 0 else position
            psi[feature.name] = population_stability(feature.shares, feature.bin_shares(incoming[:, column]).tolist())
    drifted = sorted((name for name, value in psi.items() if value >= policy.psi_threshold), key=lambda n: -psi[n])
    share = len(drifted) / len(psi) if psi else 0.0
    reasons = []
    if incoming.shape[0] >= policy.min_sessions and psi and share >= policy.drifted_share:
        reasons.append(f"{len(drifted)} of {len(psi)} features drifted (PSI >= {policy.psi_threshold})")
    if trained_on and new_labelled >= policy.new_labelled_share * trained_on:
        reasons.append(f"{new_labelled} new labelled sessions since training on {trained_on}")
    return DriftReport(int(incoming.shape[0]), psi, drifted, share, bool(reasons), reasons)
