"""The type expressions a generated field may use, checked with :mod:`ast`.

Allowed: ``str``, ``int``, ``float``, ``bool``, ``list[T]``, ``dict[str, T]``, ``T | None`` and ``Optional[T]``;
``Any`` only as an element of a list or a value of a dict (event payloads are heterogeneous dictionaries).
"""

from __future__ import annotations

import ast
from typing import Final

from escai.codegen.errors import SpecValidationError

__all__ = ["SCALAR_TYPES", "check_type_expr", "is_mapping_list", "uses_any"]

SCALAR_TYPES: Final = frozenset({"str", "int", "float", "bool"})


def check_type_expr(type_expr: str) -> None:
    """Raise :class:`SpecValidationError` unless ``type_expr`` is in the allowed set (see the module docstring)."""
    try:
        tree = ast.parse(type_expr.strip(), mode="eval").body
    except SyntaxError:
        raise SpecValidationError([f"type {type_expr!r} is not a Python type expression"]) from None
    _check(tree, type_expr, nested=False)


def _check(node: ast.expr, whole: str, *, nested: bool) -> None:
    allowed = "str, int, float, bool, list[...], dict[str, ...], X | None, Optional[X]"
    if isinstance(node, ast.Name) and (node.id in SCALAR_TYPES or (nested and node.id == "Any")):
        return
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [node.left, node.right]
        if any(isinstance(side, ast.Constant) and side.value is None for side in sides):
            for side in sides:
                if not (isinstance(side, ast.Constant) and side.value is None):
                    _check(side, whole, nested=nested)
            return
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        container, argument = node.value.id, node.slice
        if container in ("list", "Optional"):
            _check(argument, whole, nested=container == "list" or nested)
            return
        if container == "dict" and isinstance(argument, ast.Tuple) and len(argument.elts) == 2:
            key, value = argument.elts
            if isinstance(key, ast.Name) and key.id == "str":
                _check(value, whole, nested=True)
                return
    raise SpecValidationError([f"type {whole!r} is not allowed; use {allowed}"])


def is_mapping_list(type_expr: str) -> bool:
    """True for ``list[dict[str, ...]]`` (its items are read with ``item.get(key)``)."""
    compact = type_expr.replace(" ", "")
    return compact.startswith("list[dict[str,")


def uses_any(type_expr: str) -> bool:
    """True when the expression mentions ``Any`` (the generated module must import it)."""
    return any(isinstance(node, ast.Name) and node.id == "Any" for node in ast.walk(ast.parse(type_expr, mode="eval")))
