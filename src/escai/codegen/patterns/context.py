"""What the rules share about one parsed module: the tree, parents, comments and the async functions it defines."""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True, slots=True)
class Candidate:
    """A rule's raw match before tuning: where, how sure, and what to tell the user."""

    node: ast.AST
    confidence: float
    message: str


@dataclass(slots=True)
class ModuleContext:
    """One module prepared once for every rule."""

    tree: ast.Module
    lines: list[str]
    path: str | None
    comments: dict[int, str] = field(default_factory=dict)
    """Comment text by line number."""
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    async_functions: set[str] = field(default_factory=set)
    """Names of module-level ``async def`` functions."""
    async_methods: dict[str, set[str]] = field(default_factory=dict)
    """Per class name, the names of its ``async def`` methods."""

    @property
    def is_test_code(self) -> bool:
        """Whether the module is a test module (by its path), where asserts and some shortcuts are normal."""
        if self.path is None:
            return False
        pure = PurePath(self.path)
        return pure.name.startswith("test_") or pure.name.endswith("_test.py") or "tests" in pure.parts

    def line_text(self, line: int) -> str:
        """The stripped source line ``line`` (1-based), or an empty string outside the file."""
        return self.lines[line - 1].strip() if 1 <= line <= len(self.lines) else ""

    def enclosing_function(self, node: ast.AST) -> FunctionNode | None:
        """The innermost function containing ``node`` (lambdas are skipped: they cannot hold statements)."""
        current = self.parents.get(node)
        while current is not None:
            if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
                return current
            current = self.parents.get(current)
        return None

    def enclosing_class(self, node: ast.AST) -> ast.ClassDef | None:
        """The innermost class containing ``node``."""
        current = self.parents.get(node)
        while current is not None:
            if isinstance(current, ast.ClassDef):
                return current
            current = self.parents.get(current)
        return None

    def walk(self) -> Iterator[ast.AST]:
        """Every node of the module."""
        return ast.walk(self.tree)


def build_context(tree: ast.Module, source: str, path: str | None) -> ModuleContext:
    """Index ``tree`` (parsed from ``source``) for the rules."""
    context = ModuleContext(tree=tree, lines=source.splitlines(), path=path, comments=_read_comments(source))
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            context.parents[child] = parent
    for statement in tree.body:
        if isinstance(statement, ast.AsyncFunctionDef):
            context.async_functions.add(statement.name)
        elif isinstance(statement, ast.ClassDef):
            context.async_methods[statement.name] = {
                member.name for member in statement.body if isinstance(member, ast.AsyncFunctionDef)
            }
    return context


def _read_comments(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string
    except (tokenize.TokenError, SyntaxError):
        # The AST parsed, so this is only an unterminated construct at the end; comments so far stand.
        pass
    return comments


def call_name(node: ast.expr) -> str:
    """The dotted name of a call target (``requests.get``, ``time.sleep``, ``open``), or '' if not a name."""
    parts: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        parts.append(current.attr)
        current = current.value
    if isinstance(current, ast.Name):
        parts.append(current.id)
        return ".".join(reversed(parts))
    return ""
