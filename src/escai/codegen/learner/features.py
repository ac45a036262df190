"""Features of a (node kind, mixin combination) that do not name the combination, so they cannot leak its label.

Each mixin is described by what it *declares* it does (:data:`MIXIN_PROPERTIES`) and each node kind by its
contract (:data:`KIND_PROPERTIES`). A combination becomes: the kind one-hot, how many of its mixins have each
property, and each (kind property x mixin property) interaction, which is where incompatibilities live
("caches results" on a kind that "performs I/O"). No feature is the identity of a mixin or of the pair, so a
model must generalise from properties to combinations it never saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray

NODE_KINDS: Final[tuple[str, ...]] = ("effect", "compute", "reducer", "orchestrator")

MIXIN_PROPERTIES: Final[dict[str, frozenset[str]]] = {
    "logging": frozenset({"observes"}),
    "metrics": frozenset({"observes"}),
    "health_check": frozenset({"observes", "stateful"}),
    "rate_limiting": frozenset({"stateful", "time_based", "rejects_calls"}),
    "circuit_breaker": frozenset({"stateful", "time_based", "rejects_calls", "wraps_errors"}),
    "timeout": frozenset({"time_based", "interrupts"}),
    "retry": frozenset({"re_executes", "wraps_errors", "time_based"}),
    "validation": frozenset({"checks_input"}),
    "caching": frozenset({"stateful", "skips_execution"}),
    "transaction": frozenset({"wraps_errors", "undoes_effects"}),
    "event_publishing": frozenset({"side_effecting"}),
}
"""What each mixin declares it does (the documented behaviour of escai.nodes' mixins)."""

KIND_PROPERTIES: Final[dict[str, frozenset[str]]] = {
    "effect": frozenset({"performs_io"}),
    "compute": frozenset({"pure"}),
    "reducer": frozenset({"keeps_state"}),
    "orchestrator": frozenset({"performs_io", "composes_nodes"}),
}
"""What each node kind's contract says about it."""

_MIXIN_PROPERTY_NAMES: Final = tuple(sorted({name for names in MIXIN_PROPERTIES.values() for name in names}))
_KIND_PROPERTY_NAMES: Final = tuple(sorted({name for names in KIND_PROPERTIES.values() for name in names}))

FEATURE_NAMES: Final[tuple[str, ...]] = (
    *(f"kind={kind}" for kind in NODE_KINDS),
    "mixin_count",
    *(f"mixins.{name}" for name in _MIXIN_PROPERTY_NAMES),
    *(f"{kind_property}*{name}" for kind_property in _KIND_PROPERTY_NAMES for name in _MIXIN_PROPERTY_NAMES),
)
"""Column names of :func:`encode_combination`, in order."""


class UnknownMixinError(ValueError):
    """A mixin or node kind the feature table does not describe."""


def encode_combination(kind: str, mixins: Sequence[str]) -> NDArray[np.float64]:
    """The feature vector of ``mixins`` on a node of ``kind`` (order of ``mixins`` does not matter)."""
    if kind not in KIND_PROPERTIES:
        raise UnknownMixinError(f"unknown node kind {kind!r}; expected one of {', '.join(NODE_KINDS)}")
    unknown = [mixin for mixin in mixins if mixin not in MIXIN_PROPERTIES]
    if unknown:
        raise UnknownMixinError(f"unknown mixins: {', '.join(unknown)}")
    counts = {name: sum(name in MIXIN_PROPERTIES[mixin] for mixin in mixins) for name in _MIXIN_PROPERTY_NAMES}
    kind_has = KIND_PROPERTIES[kind]
    values = [
        *(float(kind == candidate) for candidate in NODE_KINDS),
        float(len(mixins)),
        *(float(counts[name]) for name in _MIXIN_PROPERTY_NAMES),
        *(
            float(counts[name]) * (kind_property in kind_has)
            for kind_property in _KIND_PROPERTY_NAMES
            for name in _MIXIN_PROPERTY_NAMES
        ),
    ]
    return np.asarray(values, dtype=np.float64)


def encode_many(rows: Sequence[tuple[str, Sequence[str]]]) -> NDArray[np.float64]:
    """A matrix of :func:`encode_combination` rows."""
    return (
        np.vstack([encode_combination(kind, mixins) for kind, mixins in rows])
        if rows
        else np.zeros((0, len(FEATURE_NAMES)))
    )
