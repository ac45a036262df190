"""Grouped cross-validation folds: every row of a group (all trials and prefixes of one task) lands in the same fold,
so a model is never tested on a task it was trained on.

Folds are stratified by outcome where the groups allow it (scikit-learn's ``StratifiedGroupKFold``), shuffled with
a seed; with fewer groups than folds, there are as many folds as groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

IndexArray = npt.NDArray[np.intp]


def grouped_folds(
    groups: Sequence[str], labels: npt.NDArray[np.float64], folds: int, seed: int = 0
) -> list[tuple[IndexArray, IndexArray]]:
    """(train rows, test rows) per fold; a group never appears on both sides of one fold."""
    distinct = sorted(set(groups))
    if len(distinct) < 2:
        raise ValueError("grouped cross-validation needs at least two groups (distinct tasks)")
    count = min(folds, len(distinct))
    codes = {group: index for index, group in enumerate(distinct)}
    group_codes = np.array([codes[group] for group in groups])
    placeholder = np.zeros((len(groups), 1))
    binary = (np.asarray(labels) > 0.5).astype(int)
    smallest_class = min(int(binary.sum()), int(len(binary) - binary.sum()))
    if smallest_class >= count:
        splitter = StratifiedGroupKFold(n_splits=count, shuffle=True, random_state=seed)
        splits = splitter.split(placeholder, binary, group_codes)
    else:
        # Too few of one outcome to stratify: shuffle group order through a seeded permutation of the codes.
        permuted = np.random.default_rng(seed).permutation(len(distinct))[group_codes]
        splits = GroupKFold(n_splits=count).split(placeholder, binary, permuted)
    return [(np.asarray(train, dtype=np.intp), np.asarray(test, dtype=np.intp)) for train, test in splits]
