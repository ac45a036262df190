"""The public surface of escai.nodes is exactly its __all__, and the plugin group matches the shared design."""

from __future__ import annotations

import types

import escai.nodes
from escai.nodes import MIXINS, NodeKind
from escai.nodes.plugins import PLUGIN_GROUP


def test_all_lists_every_public_name() -> None:
    """Every name in __all__ resolves and every public attribute is listed."""
    public = {
        name
        for name, value in vars(escai.nodes).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert set(escai.nodes.__all__) == public


def test_shared_names_match_the_design() -> None:
    """Kinds, mixin order and entry-point group are the strings other packages code against."""
    assert [kind.value for kind in NodeKind] == ["effect", "compute", "reducer", "orchestrator"]
    assert MIXINS[0] == "logging" and MIXINS[-1] == "event_publishing" and len(MIXINS) == 11
    assert PLUGIN_GROUP == "escai.plugins"
