"""Instrument every installed framework at once, and the ``escai.instrument_*`` functions of the public surface.

The ``instrument_x``/``uninstrument_x`` functions here import ``escai.instrument.x`` only when called, so that
``import escai`` never imports a framework. :func:`instrument_installed` instruments every framework that is
installed now; :func:`instrument_when_imported` (what ``escai run`` uses) instruments each framework only when the
program imports it, so a program that never touches a framework never pays for importing it.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from escai.instrument.base import InstrumentationError
from escai.sdk.errors import report_internal_error
from escai.sdk.import_hooks import hooks

_logger = logging.getLogger("escai.instrument")


@dataclass(frozen=True, slots=True)
class Framework:
    """One framework ESCAI can instrument."""

    name: str
    """ESCAI's name (``langchain``), also the ``escai[...]`` extra."""
    module: str
    """The framework's top-level module, imported by every program that uses it."""
    instrumentor: str
    """The ESCAI module with ``instrument_<name>`` / ``uninstrument_<name>``."""


FRAMEWORKS: tuple[Framework, ...] = (
    Framework("langchain", "langchain_core", "escai.instrument.langchain"),
    Framework("autogen", "autogen_agentchat", "escai.instrument.autogen"),
    Framework("crewai", "crewai", "escai.instrument.crewai"),
    Framework("openai", "openai", "escai.instrument.openai"),
)
_BY_NAME = {framework.name: framework for framework in FRAMEWORKS}


def _function(framework: Framework, verb: str) -> Callable[[], bool] | None:
    """``escai.instrument.<name>.<verb>_<name>``, or None when ESCAI has no instrumentor module for it."""
    try:
        module = importlib.import_module(framework.instrumentor)
    except ModuleNotFoundError as error:
        if error.name == framework.instrumentor:
            return None
        raise
    function: Callable[[], bool] | None = getattr(module, f"{verb}_{framework.name}", None)
    return function


def _call(name: str, verb: str) -> bool:
    framework = _BY_NAME[name]
    function = _function(framework, verb)
    if function is None:
        raise InstrumentationError(f"this version of ESCAI has no {name} instrumentor ({framework.instrumentor})")
    return function()


def instrument_langchain() -> bool:
    """Record every LangChain/LangGraph run. Idempotent; True if it was not instrumented yet.

    Raises :class:`~escai.instrument.base.InstrumentationError` with ``pip install 'escai[langchain]'`` when
    ``langchain-core`` is missing or unsupported.
    """
    return _call("langchain", "instrument")


def uninstrument_langchain() -> bool:
    """Stop recording LangChain runs and restore what was patched. True if it was instrumented."""
    return _call("langchain", "uninstrument")


def instrument_autogen() -> bool:
    """Record AutoGen AgentChat agents and teams. Idempotent; raises InstrumentationError if it is missing."""
    return _call("autogen", "instrument")


def uninstrument_autogen() -> bool:
    """Stop recording AutoGen and restore what was patched. True if it was instrumented."""
    return _call("autogen", "uninstrument")


def instrument_crewai() -> bool:
    """Record CrewAI crews, agents, tasks and tools. Idempotent; raises InstrumentationError if it is missing."""
    return _call("crewai", "instrument")


def uninstrument_crewai() -> bool:
    """Stop recording CrewAI. True if it was instrumented."""
    return _call("crewai", "uninstrument")


def instrument_openai() -> bool:
    """Record OpenAI SDK calls (chat, responses, assistants). Idempotent; raises InstrumentationError if missing."""
    return _call("openai", "instrument")


def uninstrument_openai() -> bool:
    """Stop recording OpenAI SDK calls and restore the patched methods. True if it was instrumented."""
    return _call("openai", "uninstrument")


def is_installed(framework: Framework) -> bool:
    """Whether the framework's top-level module can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec(framework.module) is not None
    except (ImportError, ValueError):
        return False


def _selected(only: Iterable[str] | None) -> list[Framework]:
    if only is None:
        return list(FRAMEWORKS)
    wanted = {name.strip().lower() for name in only if name.strip()}
    unknown = wanted - set(_BY_NAME)
    if unknown:
        _logger.warning("escai: unknown frameworks %s (known: %s)", sorted(unknown), sorted(_BY_NAME))
    return [framework for framework in FRAMEWORKS if framework.name in wanted]


def _instrument(framework: Framework) -> bool:
    """Instrument one framework; True if it is instrumented afterwards. Never raises."""
    try:
        function = _function(framework, "instrument")
        if function is None:
            _logger.debug("escai: no %s instrumentor in this version", framework.name)
            return False
        function()
        return True
    except InstrumentationError as error:
        _logger.info("escai: %s is not instrumented: %s", framework.name, error)
        return False
    except Exception as error:
        report_internal_error(f"instrument {framework.name}", error)
        return False


def instrument_installed(only: Iterable[str] | None = None) -> list[str]:
    """Instrument every installed framework (or those named in ``only``); return the names instrumented.

    Frameworks that are not installed, or that this version of ESCAI has no instrumentor for, are skipped.
    Imports each installed framework now; see :func:`instrument_when_imported` for the lazy variant.
    """
    return [framework.name for framework in _selected(only) if is_installed(framework) and _instrument(framework)]


def instrument_when_imported(only: Iterable[str] | None = None) -> list[str]:
    """Instrument each installed framework when the program first imports it (at once if it already has).

    Returns the names of the frameworks that are installed and watched.
    """
    watched = []
    for framework in _selected(only):
        if not is_installed(framework):
            continue
        hooks.when_imported(framework.module, _hook_for(framework))
        watched.append(framework.name)
    return watched


def _hook_for(framework: Framework) -> Callable[[], None]:
    def hook() -> None:
        _instrument(framework)

    return hook
