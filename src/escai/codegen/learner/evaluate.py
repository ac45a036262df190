"""Held-out accuracy of the compatibility model beside the majority-class baseline.

Two ways of holding out, both grouped so that no held-out combination is ever seen in training:

- ``combination``: k folds over distinct (kind, mixin set) combinations;
- ``mixin``: leave one mixin out; every combination containing it is held out, so the model meets that mixin
  only through its declared properties (the harder test).

The baseline predicts, for every held-out combination, the majority outcome of the training folds.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from escai.codegen.learner.model import Outcome, train

GroupBy = Literal["combination", "mixin"]


@dataclass(frozen=True, slots=True)
class HeldOutScore:
    """Accuracy over held-out combinations (each weighted by its number of runs)."""

    grouping: str
    combinations: int
    accuracy: float
    baseline_accuracy: float
    """Majority class of the training folds."""


def _folds(outcomes: Sequence[Outcome], grouping: GroupBy, folds: int, seed: int) -> list[list[int]]:
    if grouping == "mixin":
        mixins = sorted({mixin for outcome in outcomes for mixin in outcome.mixins})
        return [[index for index, outcome in enumerate(outcomes) if mixin in outcome.mixins] for mixin in mixins]
    keys = sorted({(outcome.node_kind, tuple(sorted(outcome.mixins))) for outcome in outcomes})
    random.Random(seed).shuffle(keys)
    fold_of = {key: position % folds for position, key in enumerate(keys)}
    return [
        [
            index
            for index, outcome in enumerate(outcomes)
            if fold_of[(outcome.node_kind, tuple(sorted(outcome.mixins)))] == fold
        ]
        for fold in range(folds)
    ]


def evaluate_held_out(
    outcomes: Iterable[Outcome], *, grouping: GroupBy = "combination", folds: int = 5, seed: int = 0
) -> HeldOutScore:
    """Train without each fold, predict the fold from features alone, and compare with the majority baseline.

    A held-out combination counts as right when the predicted score is on the same side of 0.5 as its
    observed outcome (ties of a combination's runs go to success).
    """
    listed = list(outcomes)
    correct = baseline_correct = total = 0.0
    combinations = 0
    for held_indices in _folds(listed, grouping, folds, seed):
        held = set(held_indices)
        if not held:
            continue
        training = [outcome for index, outcome in enumerate(listed) if index not in held]
        model = train(training)
        # Scores come from features alone: an observed pair in training would otherwise answer for itself.
        majority = model.prior >= 0.5
        by_combination: dict[tuple[str, tuple[str, ...]], list[Outcome]] = {}
        for index in held_indices:
            outcome = listed[index]
            by_combination.setdefault((outcome.node_kind, tuple(sorted(outcome.mixins))), []).append(outcome)
        for (kind, mixins), runs in by_combination.items():
            weight = sum(run.weight for run in runs)
            observed = sum(run.weight for run in runs if run.success) >= weight / 2
            predicted = model.predict_unseen(kind, mixins) >= 0.5
            correct += weight * (predicted == observed)
            baseline_correct += weight * (majority == observed)
            total += weight
            combinations += 1
    return HeldOutScore(
        grouping=grouping,
        combinations=combinations,
        accuracy=round(correct / total, 4) if total else 0.0,
        baseline_accuracy=round(baseline_correct / total, 4) if total else 0.0,
    )
