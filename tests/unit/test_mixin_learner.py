"""The mixin-compatibility learner: leak-free features, the model, the advisor, and real runs of escai.nodes."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from escai.codegen.learner import (
    FEATURE_NAMES,
    CompatibilityAdvisor,
    Outcome,
    Trial,
    UnknownMixinError,
    encode_combination,
    evaluate_held_out,
    list_combinations,
    pair_outcomes,
    record_outcomes,
    run_experiments,
    train,
    train_from_database,
    try_combination,
)
from escai.codegen.prd import parse_prd
from escai.codegen.spec import build_spec
from escai.nodes.mixins.caching import CacheLayer
from escai.store.engine import create_engine
from escai.store.migrate import upgrade_async
from escai.store.seed_repository import get_mixin_compatibility, update_mixin_compatibility

KINDS = ("effect", "compute", "reducer", "orchestrator")
SAFE = ("logging", "metrics", "validation", "timeout")


def planted_outcomes() -> list[Outcome]:
    """Outcomes with one planted rule: anything that skips execution (caching) fails where the kind does I/O."""
    outcomes = []
    for kind in KINDS:
        for pair in itertools.combinations((*SAFE, "caching"), 2):
            fails = "caching" in pair and kind in ("effect", "orchestrator")
            outcomes.append(Outcome(kind, pair, not fails, "cache hit skips I/O" if fails else None))
    return outcomes


def test_features_ignore_order_and_never_name_the_mixins() -> None:
    """A combination's features do not depend on mixin order, and no feature is a mixin or pair identity."""
    first = encode_combination("effect", ["retry", "caching"])
    second = encode_combination("effect", ["caching", "retry"])
    assert np.array_equal(first, second)
    assert len(first) == len(FEATURE_NAMES)
    assert not any("retry" in name or "caching" in name for name in FEATURE_NAMES)


def test_unknown_mixins_are_refused() -> None:
    """Features of an unknown mixin or kind cannot be made up."""
    with pytest.raises(UnknownMixinError):
        encode_combination("effect", ["teleport"])
    with pytest.raises(UnknownMixinError):
        encode_combination("gadget", ["retry"])


def test_model_generalises_a_planted_rule_to_an_unseen_pair() -> None:
    """Trained without (caching, logging), the model still predicts it fails on effect and works on compute."""
    outcomes = [outcome for outcome in planted_outcomes() if set(outcome.mixins) != {"caching", "logging"}]
    model = train(outcomes)
    effect_score, effect_confidence = model.predict("effect", ["caching", "logging"])
    compute_score, _ = model.predict("compute", ["caching", "logging"])
    assert effect_score < 0.5 < compute_score
    assert 0 < effect_confidence <= 1


def test_triple_is_no_better_than_its_worst_pair() -> None:
    """A triple containing a failing pair scores at most that pair's score."""
    model = train(planted_outcomes())
    pair_score, _ = model.predict("effect", ["caching", "metrics"])
    triple_score, _ = model.predict("effect", ["caching", "metrics", "logging"])
    assert triple_score <= pair_score < 0.5


def test_held_out_accuracy_beats_the_majority_baseline_on_a_planted_rule() -> None:
    """On held-out combinations the model learns the planted rule that the majority class cannot express."""
    score = evaluate_held_out(planted_outcomes(), grouping="combination", folds=4)
    assert score.combinations == len(planted_outcomes())
    assert score.accuracy > score.baseline_accuracy


def test_advisor_warns_only_about_predicted_failures() -> None:
    """The advisor names the incompatible pair on effect and stays quiet on compute."""
    advisor = CompatibilityAdvisor(train(planted_outcomes()))
    warnings = advisor.advise("effect", ["logging", "caching", "metrics"])
    assert warnings and all("caching" in warning.mixins for warning in warnings)
    assert "predicted incompatible" in str(warnings[0])
    assert advisor.advise("compute", ["logging", "caching"]) == []


def test_one_class_data_gives_a_constant_prediction() -> None:
    """With only successes recorded, every combination is predicted compatible with no model confidence."""
    model = train([Outcome("compute", ("logging", "metrics"), True)])
    score, confidence = model.predict("effect", ["retry", "timeout"])
    assert score == 1.0
    assert confidence == 0.5


async def test_training_from_the_recorded_matrix(database_url: str) -> None:
    """Outcomes recorded with update_mixin_compatibility train the same kind of model, on both databases."""
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            for outcome in planted_outcomes():
                first, second = outcome.mixins
                await update_mixin_compatibility(conn, outcome.node_kind, first, second, outcome.success, outcome.error)  # type: ignore[arg-type]
        async with engine.connect() as conn:
            model = await train_from_database(conn)
    finally:
        await engine.dispose()
    assert model.training_size == len(planted_outcomes())
    seen_score, seen_confidence = model.predict("effect", ["caching", "metrics"])
    assert seen_score < 0.5
    assert seen_confidence >= 1 / 6


async def test_runtime_refusal_is_a_failed_outcome_naming_the_culprit() -> None:
    """A transaction on a pure Compute node is refused at definition, and the trial blames the transaction mixin."""
    trial = await try_combination("compute", ("logging", "transaction"))
    assert not trial.success
    assert trial.error is not None and trial.error.startswith("definition:")
    assert trial.culprits == ("transaction",)


async def test_compatible_combination_passes_every_behavioural_check() -> None:
    """Retry, timeout, circuit breaker and transaction on an Effect node build and behave as promised."""
    trial = await try_combination("effect", ("circuit_breaker", "timeout", "retry", "transaction"))
    assert trial == Trial(True)


async def test_a_mixin_that_does_not_work_fails_the_behavioural_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the cache layer broken (it never serves a hit), a caching Compute node fails in behaviour."""

    async def never_cached(self: CacheLayer, data: BaseModel, proceed: Any) -> BaseModel:
        return await proceed(data)  # type: ignore[no-any-return]

    monkeypatch.setattr(CacheLayer, "invoke", never_cached)
    trial = await try_combination("compute", ("logging", "caching"))
    assert not trial.success
    assert trial.error is not None and "caching served no repeated call" in trial.error


def test_triple_failures_are_recorded_only_for_the_blamed_pairs() -> None:
    """A refused triple records failures for the pairs with the culprit; a working triple records all successes."""
    refused = Outcome("effect", ("logging", "metrics", "caching"), False, "definition: ...", culprits=("caching",))
    assert pair_outcomes(refused) == [("logging", "caching", False), ("metrics", "caching", False)]
    working = Outcome("compute", ("logging", "metrics", "caching"), True)
    assert [success for _, _, success in pair_outcomes(working)] == [True, True, True]


async def test_real_experiments_recorded_and_learned_predict_an_unseen_pair(database_url: str) -> None:
    """Real runs without (caching, logging) are recorded on both databases; the model trained on them predicts it."""
    await upgrade_async(database_url)
    combinations = [pair for pair in list_combinations(sizes=(2,)) if set(pair) != {"caching", "logging"}]
    outcomes = await run_experiments(("effect", "compute"), combinations)
    assert any(not outcome.success for outcome in outcomes) and any(outcome.success for outcome in outcomes)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            recorded = await record_outcomes(conn, outcomes)
        async with engine.connect() as conn:
            model = await train_from_database(conn)
            stored = await get_mixin_compatibility(conn, "effect", "caching", "retry")
    finally:
        await engine.dispose()
    assert recorded == len(outcomes)
    assert stored is not None and stored.failure_count == 1
    effect_score, _ = model.predict("effect", ["logging", "caching"])
    compute_score, _ = model.predict("compute", ["logging", "caching"])
    assert effect_score < 0.5 < compute_score


def test_spec_builder_shows_the_advisors_warnings() -> None:
    """build_spec with the learned advisor adds its warning for a predicted-incompatible pair of an example PRD."""
    prd_text = (Path(__file__).resolve().parents[2] / "examples" / "prd" / "tool_failure_alerts.md").read_text()
    # Outcomes in which retry with a circuit breaker fails on I/O kinds: the advisor must warn on that pair.
    outcomes = [
        Outcome(kind, pair, not ({"retry", "circuit_breaker"} <= set(pair) and kind in ("effect", "orchestrator")))
        for kind in KINDS
        for pair in itertools.combinations((*SAFE, "retry", "circuit_breaker"), 2)
    ]
    spec = build_spec(parse_prd(prd_text), compatibility=CompatibilityAdvisor(train(outcomes)))
    advised = [warning for warning in spec.warnings if "predicted incompatible" in warning]
    assert advised and all("circuit_breaker + retry" in warning for warning in advised)
