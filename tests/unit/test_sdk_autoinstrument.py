"""Instrumenting installed frameworks: post-import hooks, skipping what is missing, and the escai run helpers."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import escai
from escai.instrument import auto
from escai.instrument.auto import Framework
from escai.instrument.base import InstrumentationError
from escai.sdk.autoinstrument import BOOTSTRAP_DIR, RunOptions, child_environment, default_agent_id
from escai.sdk.import_hooks import PostImportHooks
from escai.sdk.render import MAX_CHARS, jsonable, render_text, truncate


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path for throwaway packages; they are unloaded afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]
    importlib.invalidate_caches()


def write_package(root: Path, name: str, files: dict[str, str]) -> None:
    """Create package ``name`` under ``root`` with the given module sources."""
    folder = root / name
    folder.mkdir()
    for module, source in files.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(source))


def test_hook_waits_until_the_outermost_import_of_the_package_is_done(packages: Path) -> None:
    """Importing a submodule first: the hook runs once the submodule is loaded too, never half-way."""
    write_package(
        packages, "fakefw", {"__init__": "VERSION = 1\n", "runtime": "from fakefw import VERSION\nREADY = True\n"}
    )
    seen: list[bool] = []
    hooks = PostImportHooks()
    hooks.when_imported("fakefw", lambda: seen.append(getattr(sys.modules.get("fakefw.runtime"), "READY", False)))
    try:
        import fakefw.runtime  # noqa: F401

        assert seen == [True]
    finally:
        hooks.uninstall()
    loaded = sys.modules["fakefw"]
    assert loaded.__spec__ is not None and type(loaded.__spec__.loader).__name__ == "SourceFileLoader"


def test_hook_runs_at_once_for_an_imported_module_and_survives_a_failing_hook(packages: Path) -> None:
    """An already imported module runs the hook now; a hook that raises never breaks the import."""
    write_package(packages, "otherfw", {"__init__": ""})
    import otherfw  # noqa: F401

    hooks = PostImportHooks()
    calls: list[str] = []
    hooks.when_imported("otherfw", lambda: calls.append("ran"))
    assert calls == ["ran"]
    write_package(packages, "failfw", {"__init__": "X = 1\n"})
    hooks.when_imported("failfw", lambda: 1 / 0)  # type: ignore[func-returns-value]
    try:
        with pytest.raises(ZeroDivisionError):  # under pytest the internal error surfaces
            import failfw  # noqa: F401
    finally:
        hooks.uninstall()


@pytest.fixture
def fake_frameworks(packages: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two fake frameworks with ESCAI instrumentors, one installed framework without one, one not installed."""
    write_package(packages, "alphafw", {"__init__": ""})
    write_package(packages, "betafw", {"__init__": ""})
    write_package(
        packages,
        "fake_instrumentors",
        {
            "__init__": "",
            "alpha": "CALLS = []\ndef instrument_alpha():\n    CALLS.append('alpha')\n    return True\n",
        },
    )
    frameworks = (
        Framework("alpha", "alphafw", "fake_instrumentors.alpha"),
        Framework("beta", "betafw", "fake_instrumentors.beta"),  # installed, no instrumentor module
        Framework("gamma", "gammafw_not_installed", "fake_instrumentors.gamma"),
    )
    monkeypatch.setattr(auto, "FRAMEWORKS", frameworks)
    monkeypatch.setattr(auto, "_BY_NAME", {framework.name: framework for framework in frameworks})
    return packages


def test_instrument_installed_skips_missing_frameworks_and_instrumentors(fake_frameworks: Path) -> None:
    """Only frameworks that are installed and have an instrumentor are instrumented, and named."""
    assert auto.instrument_installed() == ["alpha"]
    assert importlib.import_module("fake_instrumentors.alpha").CALLS == ["alpha"]
    assert auto.instrument_installed(["beta", "gamma"]) == []


def test_instrument_when_imported_waits_for_the_import(fake_frameworks: Path) -> None:
    """Watching does not import the framework; importing it instruments it."""
    try:
        assert auto.instrument_when_imported() == ["alpha", "beta"]
        assert "alphafw" not in sys.modules
        import alphafw  # noqa: F401

        assert importlib.import_module("fake_instrumentors.alpha").CALLS == ["alpha"]
    finally:
        auto.hooks.uninstall()


def test_public_instrument_functions_give_the_install_hint() -> None:
    """escai.instrument_crewai without CrewAI installed raises InstrumentationError with the pip command."""
    if importlib.util.find_spec("crewai") is not None:
        pytest.skip("crewai is installed here")
    with pytest.raises(InstrumentationError, match=r"pip install 'escai\[crewai\]'"):
        escai.instrument_crewai()


def test_run_environment_and_agent_names() -> None:
    """escai run puts the bootstrap folder first on PYTHONPATH, sets the ESCAI_* variables, names the agent."""
    environment = child_environment(
        {"PYTHONPATH": "/existing", "KEEP": "1"},
        RunOptions(endpoint="http://server:8000", agent_name="researcher", frameworks=[]),
        session_id="s-run",
        parent_id="p-1",
        agent_id="my_agent",
    )
    assert environment["PYTHONPATH"].split(":") == [str(BOOTSTRAP_DIR), "/existing"]
    assert (BOOTSTRAP_DIR / "sitecustomize.py").is_file()
    assert environment["ESCAI_SESSION_ID"] == "s-run" and environment["ESCAI_PARENT_ID"] == "p-1"
    assert environment["ESCAI_ENDPOINT"] == "http://server:8000" and environment["ESCAI_INSTRUMENT"] == "none"
    assert environment["KEEP"] == "1" and "ESCAI_API_KEY" not in environment
    assert default_agent_id(["python", "-u", "agents/my_agent.py", "--fast"]) == "my_agent"
    assert default_agent_id(["python3", "-m", "package.agent"]) == "package.agent"
    assert default_agent_id(["/usr/bin/node", "bot.js"]) == "node"


def test_rendering_is_bounded_and_json_ready() -> None:
    """Rendering caps strings, items and depth, never calls repr without bound, and always returns JSON text."""
    nested: dict[str, object] = {"level": 0}
    cursor = nested
    for level in range(1, 10):
        cursor["child"] = {"level": level}
        cursor = cursor["child"]  # type: ignore[assignment]
    rendered = jsonable(nested)
    assert "items>" in str(rendered)  # deep levels are summarised
    assert truncate("x" * (MAX_CHARS + 10)).endswith("(10 more characters)")
    assert render_text({1: b"raw", "f": float("nan")}) == '{"1":"<bytes of 3 bytes>","f":"nan"}'
    assert len(render_text(list(range(10**6)))) <= MAX_CHARS + 50
