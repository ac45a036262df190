"""Rules about async code: blocking calls inside ``async def`` and coroutines that are never awaited."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Final

from escai.codegen.patterns.context import Candidate, ModuleContext, call_name

# How sure a call is to block the event loop. Network and sleep calls always block; file I/O blocks too but is
# often a small, fast read that reviewers accept, so it starts under the default threshold's comfort zone.
_BLOCKING_CALLS: Final[dict[str, float]] = {
    "time.sleep": 0.95,
    "os.system": 0.9,
    "input": 0.9,
    "urllib.request.urlopen": 0.9,
    "urlopen": 0.8,
    "subprocess.run": 0.85,
    "subprocess.call": 0.85,
    "subprocess.check_call": 0.85,
    "subprocess.check_output": 0.85,
    "subprocess.Popen": 0.6,
    "socket.create_connection": 0.7,
    "open": 0.55,
}
_BLOCKING_PREFIXES: Final[dict[str, float]] = {"requests.": 0.9, "httpx.": 0.75, "urllib3.": 0.8}
_BLOCKING_METHODS: Final[dict[str, float]] = {
    "read_text": 0.5,
    "read_bytes": 0.5,
    "write_text": 0.5,
    "write_bytes": 0.5,
}
# Callees that take a coroutine object and schedule or await it themselves.
_COROUTINE_CONSUMERS: Final = frozenset(
    {
        "create_task",
        "ensure_future",
        "gather",
        "wait",
        "wait_for",
        "shield",
        "run",
        "run_until_complete",
        "run_coroutine_threadsafe",
        "as_completed",
        "timeout",
        "start_soon",
    }
)


def _blocking_confidence(name: str) -> float:
    if name in _BLOCKING_CALLS:
        return _BLOCKING_CALLS[name]
    for prefix, confidence in _BLOCKING_PREFIXES.items():
        # httpx.AsyncClient is the async API; only module-level sync helpers block.
        if name.startswith(prefix) and "Async" not in name:
            return confidence
    return _BLOCKING_METHODS.get(name.rsplit(".", 1)[-1], 0.0) if "." in name else 0.0


def find_blocking_calls(context: ModuleContext) -> Iterator[Candidate]:
    """Calls known to block (sleep, sync HTTP, subprocess, file I/O) directly inside an ``async def``."""
    for node in context.walk():
        if not isinstance(node, ast.Call):
            continue
        function = context.enclosing_function(node)
        if not isinstance(function, ast.AsyncFunctionDef):
            continue
        name = call_name(node.func)
        confidence = _blocking_confidence(name)
        if not name and isinstance(node.func, ast.Attribute):
            # A method on an expression, e.g. Path(...).read_text(): only the method name is known.
            name = node.func.attr
            confidence = _BLOCKING_METHODS.get(name, 0.0)
        if confidence > 0:
            yield Candidate(node, confidence, f"{name}() blocks the event loop inside async def {function.name}")


def _coroutine_target(context: ModuleContext, call: ast.Call) -> str:
    """The name of the coroutine function ``call`` calls, if it is known to be one, else ''."""
    name = call_name(call.func)
    if name == "asyncio.sleep":
        return name
    if name in context.async_functions:
        return name
    if name.startswith("self.") and name.count(".") == 1:
        owner = context.enclosing_class(call)
        method = name.split(".", 1)[1]
        if owner is not None and method in context.async_methods.get(owner.name, set()):
            return name
    return ""


def _names_used_later(function: ast.AST | None, variable: str) -> bool:
    """Whether ``variable`` is awaited or handed on anywhere in the enclosing scope."""
    if function is None:
        return False
    for node in ast.walk(function):
        if isinstance(node, ast.Await) and isinstance(node.value, ast.Name) and node.value.id == variable:
            return True
        if isinstance(node, ast.Call) and any(
            isinstance(argument, ast.Name) and argument.id == variable for argument in node.args
        ):
            return True
        if isinstance(node, ast.Return | ast.Yield) and isinstance(node.value, ast.Name) and node.value.id == variable:
            return True
    return False


def _missing_await_confidence(context: ModuleContext, call: ast.Call) -> float:
    parent = context.parents.get(call)
    if isinstance(parent, ast.Await | ast.Return | ast.Lambda):
        return 0.0
    if isinstance(parent, ast.Expr):
        return 0.9
    if isinstance(parent, ast.Assign) and all(isinstance(target, ast.Name) for target in parent.targets):
        used = any(
            _names_used_later(context.enclosing_function(call) or context.tree, target.id)
            for target in parent.targets
            if isinstance(target, ast.Name)
        )
        return 0.0 if used else 0.6
    # Inside a call or comprehension: fine when some enclosing call consumes coroutines (gather, create_task).
    current: ast.AST | None = parent
    while current is not None and not isinstance(current, ast.stmt):
        if isinstance(current, ast.Call) and call_name(current.func).rsplit(".", 1)[-1] in _COROUTINE_CONSUMERS:
            return 0.0
        current = context.parents.get(current)
    return 0.35


def find_missing_awaits(context: ModuleContext) -> Iterator[Candidate]:
    """Calls of a coroutine function of the same module (or ``asyncio.sleep``) whose coroutine is never awaited."""
    for node in context.walk():
        if not isinstance(node, ast.Call):
            continue
        target = _coroutine_target(context, node)
        if not target:
            continue
        confidence = _missing_await_confidence(context, node)
        if confidence > 0:
            boost = 0.05 if target == "asyncio.sleep" else 0.0
            yield Candidate(node, round(confidence + boost, 2), f"coroutine {target}() is called but never awaited")
