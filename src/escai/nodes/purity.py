"""Static purity check of Compute nodes: the AST of every method is searched for I/O and nondeterminism."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["find_impurities", "find_impurities_in_source"]

_IMPURE_BUILTINS = frozenset({"open", "print", "input", "exec", "eval", "__import__", "breakpoint"})
# Modules whose use means I/O, wall-clock time, randomness or process state.
_IMPURE_MODULES = frozenset(
    {
        "aiohttp",
        "asyncio",
        "http",
        "httpx",
        "logging",
        "os",
        "pathlib",
        "random",
        "requests",
        "secrets",
        "shutil",
        "socket",
        "sqlite3",
        "subprocess",
        "sys",
        "tempfile",
        "time",
        "urllib",
        "uuid",
    }
)
# os.path only manipulates strings; it is the one pure corner of os.
_PURE_PREFIXES = ("os.path",)
_CLOCK_READS = frozenset({"now", "utcnow", "today"})
_FILE_METHODS = frozenset({"read_text", "write_text", "read_bytes", "write_bytes", "unlink", "mkdir", "touch"})


def _dotted_name(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _outermost_attributes(tree: ast.AST) -> Iterator[ast.Attribute]:
    inner: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            value = node.value
            while isinstance(value, ast.Attribute):
                inner.add(id(value))
                value = value.value
            yield node


def _findings_in_tree(tree: ast.AST, where: str) -> list[str]:
    findings: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Global | ast.Nonlocal):
            keyword = "global" if isinstance(node, ast.Global) else "nonlocal"
            findings.append(f"{where} line {line}: writes {keyword} {', '.join(node.names)}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in _IMPURE_MODULES:
                    findings.append(f"{where} line {line}: imports {module}")
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in _IMPURE_BUILTINS:
                findings.append(f"{where} line {line}: calls {node.func.id}()")
            elif isinstance(node.func, ast.Attribute) and node.func.attr in _FILE_METHODS:
                findings.append(f"{where} line {line}: calls .{node.func.attr}() (file I/O)")
    reported: set[str] = set()
    for attribute in _outermost_attributes(tree):
        dotted = _dotted_name(attribute)
        if dotted is None or dotted in reported:
            continue
        root, *rest = dotted.split(".")
        line = attribute.lineno
        if root in _IMPURE_MODULES and not dotted.startswith(_PURE_PREFIXES):
            findings.append(f"{where} line {line}: uses {dotted}")
            reported.add(dotted)
        elif rest and rest[-1] in _CLOCK_READS and any(part in {"datetime", "date"} for part in [root, *rest]):
            findings.append(f"{where} line {line}: reads the clock with {dotted}()")
            reported.add(dotted)
        elif root == "self" and rest[:1] == ["context"]:
            findings.append(f"{where} line {line}: uses {dotted} (the node context gives access to I/O)")
            reported.add(dotted)
    return findings


def find_impurities_in_source(source: str, where: str = "<source>") -> list[str]:
    """Return one sentence per impure construct found in Python ``source``."""
    return _findings_in_tree(ast.parse(textwrap.dedent(source)), where)


def find_impurities(owner: type[Any]) -> list[str]:
    """Return the impurities in the methods that ``owner`` defines itself (inherited ones were checked already).

    A method whose source is unavailable (defined in a REPL or with ``exec``) cannot be checked and is skipped.
    """
    findings: list[str] = []
    for attribute_name, value in vars(owner).items():
        function: Callable[..., Any] | None = None
        if isinstance(value, staticmethod | classmethod):
            function = value.__func__
        elif inspect.isfunction(value):
            function = value
        if function is None:
            continue
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            continue
        findings.extend(find_impurities_in_source(source, f"{owner.__name__}.{attribute_name}"))
    return findings
