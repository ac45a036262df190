"""Which mixins may go on which node kind, and which mixins conflict with each other.

Every rule has a stable code so generators, the learner and the docs can refer to it. ``error`` problems stop a
node class from being defined; ``warning`` problems are reported by :func:`check_mixins` but allowed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from escai.nodes.kinds import MIXINS, NodeKind

__all__ = ["INCOMPATIBILITY_RULES", "MixinProblem", "check_mixins", "errors_only"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class MixinProblem:
    """One reason a list of mixins does not suit a node kind."""

    code: str
    message: str
    mixins: tuple[str, ...]
    severity: Severity = "error"


@dataclass(frozen=True, slots=True)
class _KindRule:
    code: str
    kind: NodeKind
    mixin: str
    reason: str
    severity: Severity = "error"


@dataclass(frozen=True, slots=True)
class _PairRule:
    code: str
    first: str
    second: str
    reason: str
    severity: Severity = "error"


_KIND_RULES: tuple[_KindRule, ...] = (
    _KindRule(
        "NODE010",
        NodeKind.EFFECT,
        "caching",
        "caching an Effect node would skip its side effect on a cache hit",
    ),
    _KindRule(
        "NODE011",
        NodeKind.REDUCER,
        "caching",
        "caching a Reducer node would return stale state: its state changes with every call",
    ),
    _KindRule(
        "NODE012",
        NodeKind.COMPUTE,
        "transaction",
        "a transaction on a Compute node has nothing to commit or roll back: compute nodes are pure",
    ),
    _KindRule(
        "NODE014",
        NodeKind.ORCHESTRATOR,
        "caching",
        "caching an Orchestrator node would skip the side effects of its steps on a cache hit",
    ),
    _KindRule(
        "NODE015",
        NodeKind.ORCHESTRATOR,
        "transaction",
        "an Orchestrator undoes failed workflows by compensating its steps; one transaction cannot span other "
        "nodes' I/O",
    ),
    _KindRule(
        "NODE020",
        NodeKind.COMPUTE,
        "circuit_breaker",
        "a Compute node has no remote dependency for a circuit breaker to protect",
        "warning",
    ),
    _KindRule(
        "NODE021",
        NodeKind.COMPUTE,
        "rate_limiting",
        "a Compute node uses no external quota that rate limiting would protect",
        "warning",
    ),
)

_PAIR_RULES: tuple[_PairRule, ...] = (
    _PairRule(
        "NODE030",
        "caching",
        "event_publishing",
        "with caching, a cache hit publishes no event, so subscribers miss repeated results",
        "warning",
    ),
)

INCOMPATIBILITY_RULES: dict[str, str] = {
    "NODE001": "unknown mixin name",
    "NODE002": "mixin listed more than once",
    **{rule.code: f"{rule.mixin} on {rule.kind.value} nodes: {rule.reason}" for rule in _KIND_RULES},
    "NODE013": "retry on an effect node that does not declare idempotent = True: a retried side effect may happen "
    "twice",
    **{rule.code: f"{rule.first} with {rule.second}: {rule.reason}" for rule in _PAIR_RULES},
}
"""Every rule code with a one-line description (the table in docs/nodes.md is generated from the same text)."""


def check_mixins(kind: NodeKind | str, mixins: Sequence[str], *, idempotent: bool = False) -> list[MixinProblem]:
    """Return every problem with putting ``mixins`` on a node of ``kind``; never raises for bad mixins.

    ``idempotent`` says whether the node declares that repeating a call is safe (it matters for retry on Effect
    nodes). An unknown ``kind`` raises ``ValueError``, since no rule can be applied to it.
    """
    node_kind = NodeKind(kind)
    problems: list[MixinProblem] = []
    for name, count in Counter(mixins).items():
        if name not in MIXINS:
            problems.append(
                MixinProblem("NODE001", f"unknown mixin {name!r}; known mixins are: {', '.join(MIXINS)}", (name,))
            )
        if count > 1:
            problems.append(MixinProblem("NODE002", f"mixin {name!r} is listed {count} times", (name,)))
    present = set(mixins)
    for rule in _KIND_RULES:
        if rule.kind is node_kind and rule.mixin in present:
            message = f"{rule.mixin!r} on {_article(node_kind)} {node_kind.value} node: {rule.reason}"
            problems.append(MixinProblem(rule.code, message, (rule.mixin,), rule.severity))
    if node_kind is NodeKind.EFFECT and "retry" in present and not idempotent:
        problems.append(
            MixinProblem(
                "NODE013",
                "'retry' on an effect node that does not declare idempotent = True: a retried side effect may "
                "happen twice",
                ("retry",),
            )
        )
    for pair in _PAIR_RULES:
        if pair.first in present and pair.second in present:
            message = f"{pair.first!r} with {pair.second!r}: {pair.reason}"
            problems.append(MixinProblem(pair.code, message, (pair.first, pair.second), pair.severity))
    return problems


def errors_only(problems: Sequence[MixinProblem]) -> list[MixinProblem]:
    """Return the problems that stop a node from being built (severity ``error``)."""
    return [problem for problem in problems if problem.severity == "error"]


def _article(kind: NodeKind) -> str:
    return "an" if kind.value[0] in "aeiou" else "a"
