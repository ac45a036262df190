"""ESCAI: watch and understand autonomous LLM agents.

This module is the public SDK surface; everything else lives in subpackages. Every name is loaded on first use, so
``import escai`` is cheap and imports no framework::

    import escai

    escai.init()                      # embedded local store; escai.init("http://host:8000") for a server
    escai.instrument_langchain()

    with escai.session("answer the question") as run:
        ...
        run.set_outcome(success=True)
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from escai._version import __version__

if _typing.TYPE_CHECKING:
    from escai.instrument.auto import (
        instrument_autogen,
        instrument_crewai,
        instrument_langchain,
        instrument_openai,
        uninstrument_autogen,
        uninstrument_crewai,
        uninstrument_langchain,
        uninstrument_openai,
    )
    from escai.sdk.api import capture_event, flush, init, shutdown, start_monitoring, stop_monitoring
    from escai.sdk.observe import observe
    from escai.sdk.session import session

__all__ = [
    "__version__",
    "capture_event",
    "flush",
    "init",
    "instrument_autogen",
    "instrument_crewai",
    "instrument_langchain",
    "instrument_openai",
    "observe",
    "session",
    "shutdown",
    "start_monitoring",
    "stop_monitoring",
    "uninstrument_autogen",
    "uninstrument_crewai",
    "uninstrument_langchain",
    "uninstrument_openai",
]

_LAZY = {
    "capture_event": "escai.sdk.api",
    "flush": "escai.sdk.api",
    "init": "escai.sdk.api",
    "shutdown": "escai.sdk.api",
    "start_monitoring": "escai.sdk.api",
    "stop_monitoring": "escai.sdk.api",
    "observe": "escai.sdk.observe",
    "session": "escai.sdk.session",
    **{
        f"{verb}_{framework}": "escai.instrument.auto"
        for verb in ("instrument", "uninstrument")
        for framework in ("autogen", "crewai", "langchain", "openai")
    },
}


def __getattr__(name: str) -> _typing.Any:
    """Load a public name on first use and keep it as a module attribute."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'escai' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, loaded or not."""
    return sorted(set(globals()) | set(__all__))
