"""How much each member of the ensemble counts: weights chosen on out-of-fold predictions of the training data.

Which member predicts better depends on the data (a linear model tends to beat trees on a couple of hundred runs,
trees catch interactions when runs come in thousands), so the weights are not fixed: each member's calibrated,
grouped out-of-fold probabilities on the *training* runs are blended on a coarse grid of the simplex and the
blend with the lowest log loss wins. The rows being predicted never take part (this is nested inside any outer
cross-validation). Ties go to the most even blend, and the grid is coarse (steps of a quarter) so a small
difference in a small sample cannot push all weight onto one member unless it predicts clearly better.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.metrics import log_loss

Vector = npt.NDArray[np.float64]

BLEND_STEP = 0.25
"""Grid step of the member weights."""
_EPSILON = 1e-6


def simplex_grid(members: int, step: float = BLEND_STEP) -> list[tuple[float, ...]]:
    """Weight vectors over ``members`` that are multiples of ``step`` and sum to 1, the most even first."""
    units = round(1 / step)
    grid = [
        tuple(count * step for count in counts)
        for counts in itertools.product(range(units + 1), repeat=members)
        if sum(counts) == units
    ]
    even = 1 / members
    return sorted(grid, key=lambda weights: sum((weight - even) ** 2 for weight in weights))


def blend_weights(
    probabilities: Sequence[Vector], labels: Vector, sample_weights: Vector | None = None
) -> tuple[float, ...]:
    """The grid blend of the members' out-of-fold ``probabilities`` with the lowest log loss (even when tied)."""
    count = len(probabilities)
    if count <= 1 or len(set(labels.tolist())) < 2:
        return tuple([1.0] * count)
    stacked = np.clip(np.vstack(probabilities), _EPSILON, 1 - _EPSILON)
    best: tuple[float, ...] = tuple([1.0 / count] * count)
    best_loss = np.inf
    for weights in simplex_grid(count):
        blended = np.asarray(weights) @ stacked
        loss = float(log_loss(labels, blended, sample_weight=sample_weights, labels=[0.0, 1.0]))
        if loss < best_loss - 1e-9:
            best, best_loss = weights, loss
    return best
