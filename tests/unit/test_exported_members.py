"""The public surface: what ``escai`` and ``escai.model`` export is exactly what ``__all__`` lists."""

from __future__ import annotations

import importlib
import types

import pytest


@pytest.mark.parametrize("module_name", ["escai", "escai.model", "escai.bus"])
def test_all_lists_every_public_name(module_name: str) -> None:
    """Every public, non-module attribute is in __all__, and every name in __all__ exists."""
    module = importlib.import_module(module_name)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert set(module.__all__) - {"__version__"} == public
