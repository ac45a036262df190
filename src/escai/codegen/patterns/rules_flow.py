"""Rules about control flow: swallowed exceptions, unreachable statements and placeholder (TODO-only) bodies."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Final

from escai.codegen.patterns.context import Candidate, ModuleContext, call_name

_TODO_MARKER: Final = re.compile(r"\b(TODO|FIXME|XXX|TBD)\b|implement (me|this)", re.IGNORECASE)
_LOGGING_CALLS: Final = re.compile(r"(^|\.)(print|debug|info|warning|warn|error|exception|critical|log)$")
_BROAD_TYPES: Final = frozenset({"Exception", "BaseException"})


def _is_placeholder(statement: ast.stmt) -> bool:
    """``pass``, ``...``, or a bare string (a docstring-like note)."""
    if isinstance(statement, ast.Pass):
        return True
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def _raises_not_implemented(statement: ast.stmt) -> bool:
    if not isinstance(statement, ast.Raise) or statement.exc is None:
        return False
    target = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
    return call_name(target) == "NotImplementedError"


def _only_logs(body: list[ast.stmt]) -> bool:
    return all(
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and _LOGGING_CALLS.search(call_name(statement.value.func)) is not None
        for statement in body
    )


def find_swallowed_exceptions(context: ModuleContext) -> Iterator[Candidate]:
    """``except:`` anywhere, and ``except Exception:`` whose body drops the error (pass, continue, only a log)."""
    for node in context.walk():
        if not isinstance(node, ast.ExceptHandler):
            continue
        reraises = any(isinstance(inner, ast.Raise) for inner in ast.walk(node))
        if reraises:
            continue
        silent = all(_is_placeholder(statement) or isinstance(statement, ast.Continue) for statement in node.body)
        if node.type is None:
            yield Candidate(node, 0.9 if silent else 0.75, "bare except catches everything, even KeyboardInterrupt")
        elif call_name(node.type) in _BROAD_TYPES:
            if silent:
                yield Candidate(node, 0.85, f"except {call_name(node.type)} silently drops every error")
            elif _only_logs(node.body):
                # Logging and moving on is a deliberate choice at many boundaries; reviewers decide.
                yield Candidate(node, 0.35, f"except {call_name(node.type)} only logs and carries on")


_TERMINATORS: Final = (ast.Return, ast.Raise, ast.Continue, ast.Break)


def _statement_lists(node: ast.AST) -> Iterator[list[ast.stmt]]:
    for field_name in ("body", "orelse", "finalbody"):
        value = getattr(node, field_name, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            yield value
    if isinstance(node, ast.Match):
        for case in node.cases:
            yield case.body


def find_unreachable_code(context: ModuleContext) -> Iterator[Candidate]:
    """The first statement after a ``return``, ``raise``, ``continue`` or ``break`` in the same block."""
    for node in context.walk():
        for statements in _statement_lists(node):
            for index, statement in enumerate(statements[:-1]):
                if isinstance(statement, _TERMINATORS):
                    confidence = 0.95 if isinstance(statement, ast.Return | ast.Raise) else 0.9
                    keyword = type(statement).__name__.lower()
                    yield Candidate(statements[index + 1], confidence, f"statement after {keyword} never runs")
                    break


def _is_abstract_or_overload(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        call_name(decorator).rsplit(".", 1)[-1] in {"abstractmethod", "overload", "abstractproperty"}
        for decorator in function.decorator_list
    )


def _in_protocol(context: ModuleContext, function: ast.AST) -> bool:
    owner = context.enclosing_class(function)
    return owner is not None and any(call_name(base).rsplit(".", 1)[-1] == "Protocol" for base in owner.bases)


def _has_todo(context: ModuleContext, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    docstring = ast.get_docstring(function) or ""
    end = function.end_lineno or function.lineno
    comments = " ".join(text for line, text in context.comments.items() if function.lineno <= line <= end)
    messages = " ".join(
        str(node.value) for node in ast.walk(function) if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )
    return _TODO_MARKER.search(f"{docstring} {comments} {messages}") is not None


def find_todo_only_bodies(context: ModuleContext) -> Iterator[Candidate]:
    """Functions whose body is only a placeholder (pass, ..., raise NotImplementedError) left as a TODO."""
    for node in context.walk():
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if _is_abstract_or_overload(node) or _in_protocol(context, node):
            continue
        body = node.body
        if not all(_is_placeholder(statement) or _raises_not_implemented(statement) for statement in body):
            continue
        if _has_todo(context, node):
            yield Candidate(node, 0.9, f"{node.name}() is an unfinished placeholder (TODO or implement-me marker)")
        elif any(_raises_not_implemented(statement) for statement in body):
            # Without a TODO this is often an intended "subclasses override" hook.
            yield Candidate(node, 0.4, f"{node.name}() only raises NotImplementedError")
