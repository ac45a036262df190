"""Rules about values: mutable defaults, secrets in code, ``== None``, shadowed builtins, production asserts,
and f-strings without placeholders."""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Final

from escai.codegen.patterns.context import Candidate, ModuleContext, call_name

_MUTABLE_FACTORIES: Final = frozenset(
    {"list", "dict", "set", "bytearray", "collections.defaultdict", "defaultdict", "deque", "collections.deque"}
)
# Calls that frameworks evaluate on purpose in a default (dependency injection, CLI options, field specs) and
# immutable constructors.
_DECLARATIVE_DEFAULTS: Final = frozenset(
    {
        "Depends",
        "Query",
        "Body",
        "Path",
        "Header",
        "Cookie",
        "Form",
        "File",
        "Security",
        "Option",
        "Argument",
        "Field",
        "field",
        "frozenset",
        "tuple",
        "object",
    }
)


def find_mutable_defaults(context: ModuleContext) -> Iterator[Candidate]:
    """Default argument values evaluated once and shared by every call: literals and calls of mutable types."""
    for node in context.walk():
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        defaults = [*node.args.defaults, *(value for value in node.args.kw_defaults if value is not None)]
        for default in defaults:
            confidence = 0.0
            if isinstance(default, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
                confidence = 0.9
            elif isinstance(default, ast.Call):
                name = call_name(default.func)
                if name in _MUTABLE_FACTORIES:
                    confidence = 0.85
                elif name.rsplit(".", 1)[-1] not in _DECLARATIVE_DEFAULTS:
                    # Any other call is evaluated once at definition time: a bug for datetime.now(), a
                    # deliberate shared instance elsewhere.
                    confidence = 0.4
            if confidence:
                yield Candidate(default, confidence, "default value is created once and shared between calls")


_SECRET_NAME: Final = re.compile(
    r"(api_?key|apikey|secret|token|passw(or)?d|passwd|pwd|credential|private_?key|access_?key|auth_?key)",
    re.IGNORECASE,
)
_KNOWN_KEY: Final = re.compile(
    r"(AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{20,}|sk_live_[A-Za-z0-9]{16,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20}"
    r"|-----BEGIN (RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----)"
)
_PLACEHOLDER: Final = re.compile(
    r"^(|changeme|change[-_ ]me|secret|password|token|none|null|test|dummy|example|redacted|\*+|x+|\.\.\.)$"
    r"|^<.*>$|^\$\{.*\}$|^\{.*\}$|^your[-_ ]|[-_ ]here$",
    re.IGNORECASE,
)
_ENV_VAR_NAME: Final = re.compile(r"^[A-Z][A-Z0-9_]*$")


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` under its own character distribution."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(count / len(text) * math.log2(count / len(text)) for count in counts.values())


# Names that mention a secret but hold something about it (where it lives, what it is called).
_SECRET_METADATA_NAME: Final = re.compile(
    r"(_url|_uri|_path|_file|_name|_type|_header|_field|_env|_var|_key_id)$", re.I
)


def _secret_confidence(name: str, value: str) -> float:
    if _PLACEHOLDER.search(value) or _ENV_VAR_NAME.match(value) or " " in value.strip():
        return 0.0
    entropy = shannon_entropy(value)
    if len(value) >= 16 and entropy >= 3.5:
        confidence = 0.85
    elif len(value) >= 8 and entropy >= 3.0:
        confidence = 0.65
    else:
        # Short or repetitive values are often identifiers ("bearer", "db-password") rather than secrets.
        confidence = 0.3
    if _SECRET_METADATA_NAME.search(name):
        confidence -= 0.25
    if "://" in value and "@" not in value:
        # A URL without userinfo names an endpoint, not a credential.
        confidence -= 0.25
    return round(max(confidence, 0.05), 2)


def _assigned_strings(node: ast.AST) -> Iterator[tuple[str, ast.Constant]]:
    """(name, string literal) pairs from assignments, annotated assignments, keyword arguments and dict items."""
    if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
            if name:
                yield name, node.value
    elif isinstance(node, ast.keyword) and node.arg and isinstance(node.value, ast.Constant):
        yield node.arg, node.value
    elif isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and isinstance(value, ast.Constant):
                yield key.value, value


def find_secrets(context: ModuleContext) -> Iterator[Candidate]:
    """String literals that look like credentials: known key formats anywhere, high-entropy values of secret names."""
    reported: set[int] = set()
    for node in context.walk():
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _KNOWN_KEY.search(node.value):
            reported.add(id(node))
            yield Candidate(node, 0.95, "string literal contains a credential in a known key format")
    for node in context.walk():
        for name, constant in _assigned_strings(node):
            if id(constant) in reported or not isinstance(constant.value, str) or not _SECRET_NAME.search(name):
                continue
            confidence = _secret_confidence(name, constant.value)
            if confidence:
                yield Candidate(constant, confidence, f"{name} is set to a literal that looks like a secret")


def _looks_like_query(context: ModuleContext, node: ast.Compare) -> bool:
    """SQLAlchemy-style ``column == None`` builds SQL ``IS NULL``; ``is None`` would not work there."""
    if ".c." in f".{ast.unparse(node.left)}." or "column" in ast.unparse(node.left).lower():
        return True
    current = context.parents.get(node)
    while current is not None and not isinstance(current, ast.stmt):
        if isinstance(current, ast.Call) and call_name(current.func).rsplit(".", 1)[-1] in {
            "where",
            "filter",
            "having",
        }:
            return True
        current = context.parents.get(current)
    return False


def find_none_comparisons(context: ModuleContext) -> Iterator[Candidate]:
    """``x == None`` / ``x != None`` where ``is None`` / ``is not None`` is meant."""
    for node in context.walk():
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for index, operator in enumerate(node.ops):
            if not isinstance(operator, ast.Eq | ast.NotEq):
                continue
            pair = operands[index : index + 2]
            if any(isinstance(operand, ast.Constant) and operand.value is None for operand in pair):
                confidence = 0.3 if _looks_like_query(context, node) else 0.9
                yield Candidate(node, confidence, "comparison to None with ==/!=; use 'is None' / 'is not None'")
                break


_RISKY_BUILTINS: Final = frozenset(
    {
        "list", "dict", "str", "int", "float", "set", "tuple", "bytes", "type", "id", "input", "filter", "map",
        "sum", "min", "max", "len", "open", "format", "hash", "iter", "next", "object", "range", "vars", "dir",
        "compile", "all", "any", "zip", "print", "sorted", "round", "exec", "eval",
    }
)  # fmt: skip


def find_shadowed_builtins(context: ModuleContext) -> Iterator[Candidate]:
    """Names bound to a builtin's name (variables, functions, parameters), which hides the builtin in that scope."""
    for node in context.walk():
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in _RISKY_BUILTINS:
            # A class attribute or field (``id: int`` in a model) does not shadow anything.
            if not isinstance(context.parents.get(context.parents.get(node, node), None), ast.ClassDef):
                yield Candidate(node, 0.6, f"variable {node.id!r} shadows the builtin")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in _RISKY_BUILTINS:
            if not isinstance(context.parents.get(node), ast.ClassDef):
                yield Candidate(node, 0.7, f"function {node.name!r} shadows the builtin")
        elif isinstance(node, ast.arg) and node.arg in _RISKY_BUILTINS:
            # Parameters called id, type or format are common in public APIs and rarely need the builtin.
            yield Candidate(node, 0.35, f"parameter {node.arg!r} shadows the builtin")


def _narrows_type(test: ast.expr) -> bool:
    if isinstance(test, ast.Call) and call_name(test.func) == "isinstance":
        return True
    return isinstance(test, ast.Compare) and any(isinstance(operator, ast.IsNot | ast.Is) for operator in test.ops)


def find_production_asserts(context: ModuleContext) -> Iterator[Candidate]:
    """``assert`` outside test code: it disappears under ``python -O``, so it cannot guard behaviour."""
    if context.is_test_code:
        return
    for node in context.walk():
        if isinstance(node, ast.Assert):
            # ``assert x is not None`` / ``isinstance`` is usually there for the type checker, not as a guard.
            confidence = 0.3 if _narrows_type(node.test) else 0.65
            yield Candidate(node, confidence, "assert in non-test code is stripped by python -O")


def find_empty_fstrings(context: ModuleContext) -> Iterator[Candidate]:
    """f-strings with no ``{...}`` placeholder (a forgotten placeholder or a needless prefix)."""
    for node in context.walk():
        if not isinstance(node, ast.JoinedStr) or isinstance(context.parents.get(node), ast.FormattedValue):
            continue
        if not any(isinstance(value, ast.FormattedValue) for value in node.values):
            yield Candidate(node, 0.9, "f-string without placeholders")
