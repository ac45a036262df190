"""Bounded, never-failing rendering of arbitrary Python values into event content and attributes.

Arguments and results of observed functions can be anything: a megabyte string, a list of a million items, an
object whose ``__repr__`` raises. Rendering walks containers with limits on depth, items and characters, so its
cost is bounded by the limits and not by the size of the value; objects of other types are shown by their own
``repr`` cut to the limit, or by their type name when even that fails.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from typing import Any

import orjson

MAX_CHARS = 4096
"""Longest rendered text; longer text ends with an ellipsis and the number of characters left out."""
MAX_ITEMS = 50
"""Items shown per container; the rest are summarised as ``"... (N more)"``."""
MAX_DEPTH = 4
"""Containers nested deeper are shown by type and size only."""

_SCALARS = (bool, int, float, type(None))


def truncate(text: str, limit: int = MAX_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def _safe_repr(value: Any, limit: int) -> str:
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__qualname__} (repr failed)>"
    if not isinstance(text, str):  # a broken __repr__ may return anything
        return f"<{type(value).__qualname__}>"
    return truncate(text, limit)


def _sized(value: Any) -> int | None:
    try:
        size = len(value)
    except Exception:
        return None
    return size if isinstance(size, int) else None


def jsonable(value: Any, *, depth: int = 0, limit: int = MAX_CHARS) -> Any:
    """A JSON-ready copy of ``value`` with bounded depth, item count and string length. Never raises."""
    if isinstance(value, _SCALARS):
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        return value
    if isinstance(value, str):
        return truncate(value, limit)
    if isinstance(value, enum.Enum):
        return jsonable(value.value, depth=depth, limit=limit)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{type(value).__name__} of {len(value)} bytes>"
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        size = _sized(value)
        if depth >= MAX_DEPTH:
            return f"<{type(value).__name__} of {size} items>"
        return _container(value, depth, limit, size or 0)
    fields = _fields_of(value) if depth < MAX_DEPTH else None
    if fields is not None:
        return _container(fields, depth, limit, len(fields))
    return _safe_repr(value, limit)


def _fields_of(value: Any) -> dict[str, Any] | None:
    """The fields of a dataclass or pydantic model (first :data:`MAX_ITEMS`), read one by one, never dumped."""
    try:
        if dataclasses.is_dataclass(value):
            names = [field.name for field in dataclasses.fields(value)]
        else:
            model_fields = getattr(type(value), "model_fields", None)
            if not isinstance(model_fields, Mapping):
                return None
            names = list(model_fields)
        return {name: getattr(value, name, None) for name in names[:MAX_ITEMS]}
    except Exception:
        return None


def _container(value: Any, depth: int, limit: int, size: int) -> Any:
    child_limit = max(64, limit // 4)
    if isinstance(value, Mapping):
        rendered: dict[str, Any] = {}
        try:
            for index, (key, item) in enumerate(value.items()):
                if index >= MAX_ITEMS:
                    rendered["..."] = f"({size - MAX_ITEMS} more)"
                    break
                text_key = key if isinstance(key, str) else _safe_repr(key, 200)
                rendered[text_key] = jsonable(item, depth=depth + 1, limit=child_limit)
        except Exception:
            rendered["..."] = "(iteration failed)"
        return rendered
    items: list[Any] = []
    try:
        for index, item in enumerate(value):
            if index >= MAX_ITEMS:
                items.append(f"... ({size - MAX_ITEMS} more)")
                break
            items.append(jsonable(item, depth=depth + 1, limit=child_limit))
    except Exception:
        items.append("... (iteration failed)")
    return items


def render_text(value: Any, limit: int = MAX_CHARS) -> str:
    """``value`` as event content: strings as they are, anything else as bounded JSON. Never raises."""
    if isinstance(value, str):
        return truncate(value, limit)
    try:
        text = orjson.dumps(jsonable(value, limit=limit), option=orjson.OPT_NON_STR_KEYS).decode()
    except Exception:
        text = _safe_repr(value, limit)
    return truncate(text, limit)
