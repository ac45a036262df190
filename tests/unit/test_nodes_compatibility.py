"""Mixin incompatibilities: each rule is detected with its code and message, at class definition and at build."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from escai.nodes import (
    INCOMPATIBILITY_RULES,
    MIXINS,
    ComputeNode,
    EffectNode,
    MixinConflictError,
    NodeKind,
    OrchestratorNode,
    ReducerNode,
    build_node,
    check_mixins,
)


class Numbers(BaseModel):
    values: list[int]


class Total(BaseModel):
    total: int = 0


class Summer(ComputeNode[Numbers, Total, BaseModel]):
    input_model = Numbers
    output_model = Total

    def compute(self, data: Numbers) -> Total:
        return Total(total=sum(data.values))


@pytest.mark.parametrize(
    ("kind", "mixins", "code", "fragment"),
    [
        (NodeKind.EFFECT, ["caching"], "NODE010", "skip its side effect"),
        (NodeKind.REDUCER, ["caching"], "NODE011", "stale state"),
        (NodeKind.COMPUTE, ["transaction"], "NODE012", "compute nodes are pure"),
        (NodeKind.EFFECT, ["retry"], "NODE013", "idempotent = True"),
        (NodeKind.ORCHESTRATOR, ["caching"], "NODE014", "side effects of its steps"),
        (NodeKind.ORCHESTRATOR, ["transaction"], "NODE015", "compensating its steps"),
        (NodeKind.COMPUTE, ["circuit_breaker"], "NODE020", "no remote dependency"),
        (NodeKind.COMPUTE, ["rate_limiting"], "NODE021", "no external quota"),
        (NodeKind.COMPUTE, ["caching", "event_publishing"], "NODE030", "publishes no event"),
        (NodeKind.COMPUTE, ["cache"], "NODE001", "unknown mixin 'cache'"),
        (NodeKind.COMPUTE, ["logging", "logging"], "NODE002", "listed 2 times"),
    ],
)
def test_each_rule_is_reported_with_code_and_message(
    kind: NodeKind, mixins: list[str], code: str, fragment: str
) -> None:
    """check_mixins reports the rule's code with a message that explains it, and the rule is in the table."""
    problems = check_mixins(kind, mixins)
    matching = [problem for problem in problems if problem.code == code]
    assert matching, problems
    assert fragment in matching[0].message
    assert code in INCOMPATIBILITY_RULES


def test_check_mixins_returns_every_problem_without_raising() -> None:
    """Several problems at once are all returned, none raised."""
    problems = check_mixins("effect", ["caching", "retry", "bogus", "retry"])
    assert {problem.code for problem in problems} == {"NODE001", "NODE002", "NODE010", "NODE013"}


def test_compatible_lists_have_no_problems() -> None:
    """Every mixin on an idempotent effect except caching is accepted, and a plain compute list too."""
    effect_mixins = [name for name in MIXINS if name != "caching"]
    assert check_mixins(NodeKind.EFFECT, effect_mixins, idempotent=True) == []
    assert check_mixins(NodeKind.COMPUTE, ["logging", "metrics", "validation", "caching"]) == []


def test_conflict_raises_when_the_class_is_defined() -> None:
    """Defining an Effect node with caching fails at once with MixinConflictError naming the code."""
    with pytest.raises(MixinConflictError, match=r"\[NODE010\].*side effect") as caught:

        class CachedWriter(EffectNode[Numbers, Total, BaseModel]):
            input_model = Numbers
            output_model = Total
            mixins = ("caching",)

    assert caught.value.node_name == "CachedWriter"
    assert [problem.code for problem in caught.value.problems] == ["NODE010"]


def test_retry_on_effect_is_allowed_once_idempotent_is_declared() -> None:
    """An effect declaring idempotent = True may retry; without it the class is refused."""

    class SafeWriter(EffectNode[Numbers, Total, BaseModel]):
        input_model = Numbers
        output_model = Total
        mixins = ("retry",)
        idempotent = True

    assert SafeWriter.mixins == ("retry",)
    with pytest.raises(MixinConflictError, match="NODE013"):

        class UnsafeWriter(EffectNode[Numbers, Total, BaseModel]):
            input_model = Numbers
            output_model = Total
            mixins = ("retry",)


def test_reducer_and_orchestrator_refuse_their_conflicts() -> None:
    """Caching on a Reducer and a transaction on an Orchestrator are refused at definition."""
    with pytest.raises(MixinConflictError, match="NODE011"):

        class CachedCounter(ReducerNode[Numbers, Total, BaseModel]):
            input_model = Numbers
            output_model = Total
            mixins = ("caching",)

    with pytest.raises(MixinConflictError, match="NODE015"):

        class TransactionalFlow(OrchestratorNode[Numbers, Total, BaseModel]):
            input_model = Numbers
            output_model = Total
            mixins = ("transaction",)


def test_build_node_with_explicit_mixins_checks_them() -> None:
    """build_node with a conflicting explicit list raises; a valid list builds a working node with those mixins."""
    with pytest.raises(MixinConflictError, match="NODE012"):
        build_node(Summer, mixins=["transaction"])
    node = build_node(Summer, mixins=["caching", "logging"])
    assert node.mixins == ("caching", "logging")
    assert node.mixin_layer("caching") is not None
    assert node.node_name == "Summer"


def test_warnings_do_not_stop_a_class() -> None:
    """A warning-only combination (circuit breaker on Compute) still defines the class."""
    node = build_node(Summer, mixins=["circuit_breaker"])
    assert [problem.severity for problem in check_mixins(NodeKind.COMPUTE, node.mixins)] == ["warning"]
