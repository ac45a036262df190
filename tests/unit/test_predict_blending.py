"""Member weights of the success ensemble: chosen on out-of-fold probabilities, stored with the model."""

from __future__ import annotations

import numpy as np
import pytest

from escai.analysis.predict.blending import blend_weights, simplex_grid
from escai.analysis.predict.models import SuccessClassifier


def test_the_grid_covers_the_simplex_evenest_first() -> None:
    """Every grid point sums to one, the even blend comes first, and both pure members are on the grid."""
    grid = simplex_grid(2)
    assert all(sum(weights) == pytest.approx(1.0) for weights in grid)
    assert grid[0] == (0.5, 0.5)
    assert (1.0, 0.0) in grid and (0.0, 1.0) in grid and len(grid) == 5
    assert len(simplex_grid(3)) == 15


def test_an_informative_member_outweighs_a_noisy_one() -> None:
    """A member whose probabilities track the outcome gets more weight than one that guesses."""
    generator = np.random.default_rng(0)
    labels = (generator.random(300) < 0.5).astype(float)
    informative = np.clip(0.5 + 0.35 * (labels - 0.5) * 2 + generator.normal(0, 0.1, 300), 0.01, 0.99)
    noisy = generator.random(300)
    weights = blend_weights([noisy, informative], labels)
    assert weights[1] > weights[0]
    assert blend_weights([informative, informative], labels) == (0.5, 0.5)
    assert blend_weights([informative], labels) == (1.0,)


def test_weights_survive_a_round_trip_and_old_models_blend_evenly() -> None:
    """Saved weights come back on load; a model saved without weights averages its members."""
    generator = np.random.default_rng(1)
    matrix = generator.normal(size=(120, 6))
    labels = (matrix[:, 0] + generator.normal(0, 0.5, 120) > 0).astype(float)
    groups = [f"task{index % 40}" for index in range(120)]
    classifier = SuccessClassifier(seed=0).fit(matrix, labels, groups)
    assert sum(classifier.weights) == pytest.approx(1.0) and len(classifier.weights) == 2
    data = classifier.to_dict()
    loaded = SuccessClassifier.from_dict(data)
    assert np.allclose(loaded.predict_proba(matrix), classifier.predict_proba(matrix))
    data.pop("weights")
    even = SuccessClassifier.from_dict(data)
    members = even.member_probabilities(matrix)
    assert np.allclose(even.predict_proba(matrix), np.mean(list(members.values()), axis=0))
