"""The public surface: what ``escai`` and its facade packages export is exactly what ``__all__`` lists."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest


def _public_attributes(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }


@pytest.mark.parametrize("module_name", ["escai", "escai.model", "escai.bus", "escai.nodes", "escai.analysis.explain"])
def test_all_lists_every_public_name(module_name: str) -> None:
    """Every name in __all__ resolves (lazy ones included), and then no public attribute is missing from it."""
    module = importlib.import_module(module_name)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert set(module.__all__) - {"__version__"} == _public_attributes(module)


def test_escai_refuses_names_it_does_not_export() -> None:
    """An unknown attribute of escai is an AttributeError, not a lazy import of something else."""
    import escai

    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        _ = escai.not_a_name  # type: ignore[attr-defined]
    assert set(escai.__all__) <= set(dir(escai))


def test_importing_escai_imports_no_framework_and_no_sdk_machinery() -> None:
    """`import escai` loads only the package itself: the SDK, pydantic and every framework load on first use."""
    probe = (
        "import sys, escai\n"
        "heavy = ['escai.sdk.recorder', 'pydantic', 'httpx', 'sqlalchemy', 'langchain_core', 'openai',"
        " 'autogen_agentchat', 'crewai']\n"
        "print(','.join(name for name in heavy if name in sys.modules))\n"
        "escai.instrument_langchain\n"
        "print(','.join(name for name in ('langchain_core', 'openai') if name in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert completed.stdout.splitlines() == ["", ""]
