"""Node logic: extracted from PRD phrases or given explicitly, checked against a whitelist, rendered as code.

A :class:`LogicSpec` always carries one canonical Python *expression* over the node's input field names (bare
identifiers), whatever its origin: a phrase such as "returns the average of costs", "count the events whose
status is error", "sum of", "maximum of", "filter the events where status is error", "running total of cost"
becomes the equivalent expression; an explicit ``logic:`` is taken as written. Reducers may also use
``previous``, the output's value before this input. Every expression is parsed with :mod:`ast` and accepted only
if each node type, called function, method and name is on the whitelist below: no attribute access other than a
few read-only methods, no imports, no lambdas, no dunder names. That makes evaluating it in the generator safe,
which is how generated tests get their expected values (:func:`evaluate_logic`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from escai.codegen.errors import UnsafeLogicError

__all__ = [
    "ALLOWED_FUNCTIONS",
    "ALLOWED_METHODS",
    "LOGIC_OPERATIONS",
    "PREVIOUS_NAME",
    "LogicSpec",
    "check_expression",
    "evaluate_logic",
    "extract_logic",
    "predicate_values",
]

LOGIC_OPERATIONS: Final = ("expression", "sum", "mean", "count", "max", "min", "filter", "map", "concat", "accumulate")
PREVIOUS_NAME: Final = "previous"
"""The name a reducer's expression uses for the output's value before the current input."""

ALLOWED_FUNCTIONS: Final = frozenset(
    {"abs", "all", "any", "bool", "float", "int", "len", "max", "min", "round", "sorted", "str", "sum"}
)
ALLOWED_METHODS: Final = frozenset(
    {"get", "lower", "upper", "strip", "startswith", "endswith", "keys", "values", "items", "join", "count"}
)
_ALLOWED_NODES: Final = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Compare, ast.Call, ast.Constant,
    ast.Name, ast.Load, ast.Store, ast.Attribute, ast.Subscript, ast.List, ast.Tuple, ast.Dict, ast.Set,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.keyword, ast.Slice,
    ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod,
    ast.Pow, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
)  # fmt: skip


class LogicSpec(BaseModel):
    """What a node computes: an operation name, the canonical expression, and the PRD wording it came from."""

    model_config = ConfigDict(frozen=True)

    operation: str
    """One of :data:`LOGIC_OPERATIONS`; ``expression`` when the PRD wrote the expression itself."""
    expression: str
    phrase: str
    """The PRD's words the logic was read from (or the explicit expression)."""
    names: list[str]
    """The input field names (and ``previous``) the expression reads, in first-use order."""


def check_expression(expression: str, allowed_names: Iterable[str]) -> list[str]:
    """Validate ``expression`` against the whitelist; return the free names it reads (in order of first use).

    Raises :class:`UnsafeLogicError` naming the first construct, function, method or name that is not allowed.
    """
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsafeLogicError(f"logic {expression!r} is not a Python expression: {exc.msg}") from exc
    allowed = set(allowed_names)
    bound = {target.id for node in ast.walk(tree) if isinstance(node, ast.comprehension)
             for target in ast.walk(node.target) if isinstance(target, ast.Name)}  # fmt: skip
    used: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise UnsafeLogicError(f"logic {expression!r}: {type(node).__name__} is not allowed in node logic")
        if isinstance(node, ast.Attribute):
            if node.attr not in ALLOWED_METHODS:
                raise UnsafeLogicError(f"logic {expression!r}: attribute .{node.attr} is not allowed")
        elif isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Name) and function.id not in ALLOWED_FUNCTIONS:
                raise UnsafeLogicError(f"logic {expression!r}: function {function.id}() is not allowed")
            if not isinstance(function, ast.Name | ast.Attribute):
                raise UnsafeLogicError(f"logic {expression!r}: only named functions and methods may be called")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in bound or node.id in ALLOWED_FUNCTIONS:
                continue
            if node.id not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise UnsafeLogicError(
                    f"logic {expression!r} reads {node.id!r}, which is not an input field (known: {known})"
                )
            if node.id not in used:
                used.append(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("__"):
            raise UnsafeLogicError(f"logic {expression!r}: dunder strings are not allowed")
    return used


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _resolve(word: str, input_names: Iterable[str]) -> str | None:
    """The input field a word of the PRD names: exact, or singular/plural of it (``cost`` → ``costs``)."""
    names = list(input_names)
    for name in names:
        if word == name.lower() or _singular(word) == _singular(name.lower()):
            return name
    for name in names:
        # "cost" names "cost_usd": a field whose first word is the word, when that is unique.
        if name.lower().split("_")[0] == _singular(word):
            return name
    return None


_NUMBER: Final = r"[-+]?\d+(?:\.\d+)?"
_PHRASES: Final = (
    ("mean", re.compile(r"\b(?:the\s+)?(?:average|mean)\s+of\s+(?:the\s+)?(?P<source>\w+)")),
    ("sum", re.compile(r"\b(?:the\s+)?sum\s+of\s+(?:the\s+)?(?P<source>\w+)")),
    ("max", re.compile(r"\b(?:the\s+)?(?:maximum|largest|highest)\s+(?:of\s+)?(?:the\s+)?(?P<source>\w+)")),
    ("min", re.compile(r"\b(?:the\s+)?(?:minimum|smallest|lowest)\s+(?:of\s+)?(?:the\s+)?(?P<source>\w+)")),
    (
        "count",
        re.compile(
            r"\bcount\s+(?:of\s+)?(?:the\s+)?(?P<source>\w+)\s+(?:whose|where)\s+(?P<key>\w+)\s+is\s+(?P<value>\w+)"
        ),
    ),
    (
        "filter",
        re.compile(r"\bfilter\s+(?:the\s+)?(?P<source>\w+)\s+(?:where|whose)\s+(?P<key>\w+)\s+is\s+(?P<value>\w+)"),
    ),
    ("accumulate", re.compile(r"\b(?:running|cumulative)\s+total\s+of\s+(?:the\s+)?(?P<source>\w+)")),
    ("count", re.compile(r"\b(?:count|number)\s+(?:of\s+)?(?:the\s+)?(?P<source>\w+)")),
)


def extract_logic(
    text: str,
    input_names: Iterable[str],
    *,
    explicit: str | None = None,
    item_is_mapping: Mapping[str, bool] | None = None,
    stateful: bool = False,
) -> tuple[LogicSpec | None, list[str]]:
    """Read the logic from an explicit expression or from the first recognised phrase of ``text``.

    ``item_is_mapping`` says, per list input, whether its items are dictionaries (so ``whose status is error``
    becomes ``item.get('status') == 'error'``); ``stateful`` allows ``previous`` (reducers). Returns the logic
    (None when no phrase was recognised) and notes for the spec's ambiguities. Raises :class:`UnsafeLogicError`
    when an explicit expression is not in the safe subset or reads unknown names.
    """
    names = list(input_names)
    allowed = [*names, PREVIOUS_NAME] if stateful else names
    if explicit is not None:
        used = check_expression(explicit, allowed)
        return LogicSpec(operation="expression", expression=explicit.strip(), phrase=explicit.strip(), names=used), []
    lowered = text.lower()
    notes: list[str] = []
    mappings = item_is_mapping or {}
    for operation, pattern in _PHRASES:
        match = pattern.search(lowered)
        if match is None:
            continue
        source = _resolve(match.group("source"), names)
        if source is None:
            notes.append(f'the phrase "{match.group(0)}" names "{match.group("source")}", which is not an input field')
            continue
        expression = _expression_for(operation, source, match.groupdict(), mappings.get(source, False), stateful)
        if expression is None:
            continue
        used = check_expression(expression, allowed)
        return LogicSpec(operation=operation, expression=expression, phrase=match.group(0), names=used), notes
    return None, notes


def _expression_for(
    operation: str, source: str, groups: Mapping[str, str | None], is_mapping: bool, stateful: bool
) -> str | None:
    key, value = groups.get("key"), groups.get("value")
    condition = ""
    if key and value:
        literal = value if re.fullmatch(_NUMBER, value) else repr(value)
        condition = f"item.get({key!r}) == {literal}" if is_mapping else f"item == {literal}"
    if operation == "mean":
        return f"sum({source}) / len({source}) if {source} else 0.0"
    if operation in ("sum", "max", "min"):
        return f"sum({source})" if operation == "sum" else f"{operation}({source}) if {source} else 0"
    if operation == "count":
        return f"sum(1 for item in {source} if {condition})" if condition else f"len({source})"
    if operation == "filter" and condition:
        return f"[item for item in {source} if {condition}]"
    if operation == "accumulate" and stateful:
        return f"{PREVIOUS_NAME} + {source}"
    return None


def predicate_values(expression: str) -> dict[str, Any]:
    """The ``key: value`` pairs an expression compares items to (``item.get('status') == 'error'``).

    The generator uses them to build sample inputs that exercise both branches of a filter or a count.
    """
    pairs: dict[str, Any] = {}
    for node in ast.walk(ast.parse(expression, mode="eval")):
        if not (isinstance(node, ast.Compare) and len(node.comparators) == 1):
            continue
        left, right = node.left, node.comparators[0]
        if (
            isinstance(left, ast.Call)
            and isinstance(left.func, ast.Attribute)
            and left.func.attr == "get"
            and left.args
            and isinstance(left.args[0], ast.Constant)
            and isinstance(right, ast.Constant)
        ):
            pairs[str(left.args[0].value)] = right.value
    return pairs


_SAFE_BUILTINS: Final[dict[str, Any]] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "float": float, "int": int, "len": len, "max": max,
    "min": min, "round": round, "sorted": sorted, "str": str, "sum": sum,
}  # fmt: skip


def evaluate_logic(logic: LogicSpec, values: Mapping[str, Any]) -> Any:
    """Evaluate the (whitelisted) expression on sample ``values``; the generator's oracle for generated tests."""
    check_expression(logic.expression, values.keys())
    code = compile(ast.parse(logic.expression, mode="eval"), "<logic>", "eval")
    # Safe: check_expression allowed only arithmetic, comparisons, comprehensions and the builtins above.
    return eval(code, {"__builtins__": _SAFE_BUILTINS}, dict(values))  # noqa: S307
