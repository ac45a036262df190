"""Deterministic sample values for a node's fields, used to write the generated tests.

Samples are chosen so the logic is exercised both ways: list items of dictionaries carry the values the logic
compares against (from :func:`escai.codegen.logic.predicate_values`) on some items and different values on others.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from escai.codegen.spec import FieldSpec

__all__ = ["sample_input", "sample_value", "sample_values"]


def sample_value(type_expr: str, name: str, predicates: Mapping[str, Any] | None = None, *, empty: bool = False) -> Any:
    """A JSON-able sample of ``type_expr`` for the field ``name`` (an empty container when ``empty``)."""
    return _sample(ast.parse(type_expr, mode="eval").body, name, predicates or {}, empty)


def _sample(node: ast.expr, name: str, predicates: Mapping[str, Any], empty: bool) -> Any:
    if isinstance(node, ast.BinOp):  # X | None: a sample of X
        side = node.left if not (isinstance(node.left, ast.Constant) and node.left.value is None) else node.right
        return _sample(side, name, predicates, empty)
    if isinstance(node, ast.Name):
        return _scalar(node.id, name)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        container = node.value.id
        if container == "Optional":
            return _sample(node.slice, name, predicates, empty)
        if container == "list":
            return [] if empty else _list_items(node.slice, name, predicates)
        if container == "dict" and isinstance(node.slice, ast.Tuple):
            return {} if empty else {"key": _sample(node.slice.elts[1], name, predicates, empty)}
    raise ValueError(f"no sample for type {ast.unparse(node)!r}")


def _scalar(type_name: str, name: str) -> Any:
    if type_name == "int":
        return 3
    if type_name == "float":
        return 2.5
    if type_name == "bool":
        return True
    if "url" in name or "endpoint" in name:
        return "https://hooks.example.com/escai"
    return f"{name}-1"


def _list_items(element: ast.expr, name: str, predicates: Mapping[str, Any]) -> list[Any]:
    if isinstance(element, ast.Name) and element.id == "float":
        return [0.5, 0.25, 1.25]
    if isinstance(element, ast.Name) and element.id == "int":
        return [1, 2, 4]
    if isinstance(element, ast.Subscript) and isinstance(element.value, ast.Name) and element.value.id == "dict":
        # Three records: the first and last match every compared value, the middle one matches none.
        base = [
            {"type": "tool_call", "status": "ok", "name": "search", "cost": 0.5},
            {"type": "llm_response", "status": "ok", "name": "plan", "cost": 0.25},
            {"type": "tool_result", "status": "ok", "name": "search", "cost": 1.25},
        ]
        for index, record in enumerate(base):
            for key, value in predicates.items():
                record[key] = value if index != 1 else _different(value)
        return base
    return [_sample(element, name, predicates, False), _sample(element, f"{name}-2", predicates, False)]


def _different(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    return f"not-{value}"


def sample_values(fields: Sequence[FieldSpec]) -> dict[str, Any]:
    """Samples for the fields without a default (fields with one keep it)."""
    return {field.name: sample_value(field.type_expr, field.name) for field in fields if field.default is None}


def sample_input(
    fields: Sequence[FieldSpec], predicates: Mapping[str, Any], *, empty: bool = False, session: bool = False
) -> dict[str, Any]:
    """A full sample input (every field, defaults included) with predicate-aware list items."""
    values = {field.name: sample_value(field.type_expr, field.name, predicates, empty=empty) for field in fields}
    if session:
        values["session_id"] = "session-1"
        values["agent_id"] = "agent-1"
    return values
