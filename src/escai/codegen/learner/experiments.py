"""Running mixin combinations on the real node runtime and recording their outcomes per pair.

``escai codegen learn`` calls :func:`learn`: run every pair (and triple) of mixins on every node kind through
:func:`~escai.codegen.learner.harness.try_combination`, record each outcome with
:func:`escai.store.seed_repository.update_mixin_compatibility`, and train a model on the recorded matrix.

How a combination's outcome becomes pair outcomes: a pair run is its own pair. A triple that works records a
success for each of its pairs. A triple refused at definition records a failure for each pair that contains a
mixin the runtime blamed (its other pairs were not at fault and are not recorded); a triple that failed in
behaviour without a culprit records a failure for all its pairs, since nothing narrows it down.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from escai.codegen.learner.features import NODE_KINDS
from escai.codegen.learner.harness import try_combination
from escai.codegen.learner.model import CompatibilityModel, Outcome, train_from_database
from escai.nodes.kinds import MIXINS
from escai.store.seed_repository import update_mixin_compatibility


def list_combinations(mixins: Sequence[str] = MIXINS, sizes: Iterable[int] = (2, 3)) -> list[tuple[str, ...]]:
    """Every combination of ``mixins`` of each size in ``sizes``, in composition order."""
    return [combination for size in sizes for combination in itertools.combinations(mixins, size)]


async def run_experiments(
    kinds: Sequence[str] = NODE_KINDS, combinations: Sequence[tuple[str, ...]] | None = None
) -> list[Outcome]:
    """Run each combination on each kind and return the outcomes (one per run, in order)."""
    outcomes: list[Outcome] = []
    for kind in kinds:
        for combination in combinations if combinations is not None else list_combinations():
            trial = await try_combination(kind, combination)
            outcomes.append(Outcome(kind, combination, trial.success, trial.error, culprits=trial.culprits))
    return outcomes


def pair_outcomes(outcome: Outcome) -> list[tuple[str, str, bool]]:
    """The (mixin_a, mixin_b, success) records one combination's outcome implies (see the module docstring)."""
    pairs = list(itertools.combinations(outcome.mixins, 2))
    if outcome.success:
        return [(first, second, True) for first, second in pairs]
    if len(pairs) == 1 or not outcome.culprits:
        return [(first, second, False) for first, second in pairs]
    return [(first, second, False) for first, second in pairs if {first, second} & set(outcome.culprits)]


async def record_outcomes(conn: AsyncConnection, outcomes: Iterable[Outcome]) -> int:
    """Record every pair outcome in ``mixin_compatibility_matrix``; return how many were recorded."""
    recorded = 0
    for outcome in outcomes:
        for first, second, success in pair_outcomes(outcome):
            await update_mixin_compatibility(conn, outcome.node_kind, first, second, success, outcome.error)  # type: ignore[arg-type]
            recorded += 1
    return recorded


async def learn(conn: AsyncConnection, *, sizes: Iterable[int] = (2, 3)) -> CompatibilityModel:
    """Run the experiments, record them in the caller's transaction, and train on the whole recorded matrix."""
    outcomes = await run_experiments(combinations=list_combinations(sizes=sizes))
    await record_outcomes(conn, outcomes)
    return await train_from_database(conn)
