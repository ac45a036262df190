"""JSON serialisation of ESCAI log events (orjson with a lossless-where-possible fallback).

orjson encodes str/int/float/bool/None, dict/list/tuple, datetime/date/time
(``Z`` for UTC), UUID, enums and dataclasses natively and fast.
:func:`json_default` covers what it cannot: ``Decimal`` (as a string, because
a float silently loses precision on costs and token prices), ``Path``, sets
(sorted when possible, for stable output), ``bytes`` (UTF-8 text with
backslash escapes for invalid bytes), exceptions (``type``/``message``/
``traceback``), ``timedelta`` (seconds), other mappings, pydantic models, and
finally ``repr``.  When orjson refuses an event outright (integers beyond 64
bits, lone surrogates, reference cycles) :func:`render_json` falls back to the
stdlib encoder and then to ``repr`` per value: a log call must never raise
because of what was logged.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import traceback
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from types import TracebackType
from typing import Any

import orjson

__all__ = ["StructuredEvent", "exception_fields", "json_default", "render_json", "safe_str"]

_ORJSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def exception_fields(exc: BaseException, tb: TracebackType | None = None) -> dict[str, str]:
    """Describe an exception as ``{"type", "message", "traceback"}``."""
    cls = type(exc)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    return {
        "type": name,
        "message": safe_str(exc),
        # format_exception follows __cause__/__context__, so chained errors are kept.
        "traceback": "".join(traceback.format_exception(cls, exc, tb or exc.__traceback__)),
    }


def json_default(obj: Any) -> Any:
    """Convert a value orjson cannot encode into one it can (never raises)."""
    if isinstance(obj, BaseException):
        return exception_fields(obj)
    if isinstance(obj, Decimal):
        return str(obj)  # a float would silently lose precision (costs, token prices)
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, set | frozenset):
        try:
            return sorted(obj)  # stable output for equal sets
        except TypeError:
            return list(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return bytes(obj).decode("utf-8", errors="backslashreplace")
    if isinstance(obj, _dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, Mapping):
        return dict(obj)
    model_dump = getattr(obj, "model_dump", None)  # pydantic v2 models, without importing pydantic
    if callable(model_dump):
        try:
            return model_dump(mode="json")
        except Exception:  # noqa: S110 - a broken model must not break logging; repr below
            pass
    return _safe_repr(obj)


def _stdlib_json_default(obj: Any) -> Any:
    """``json.dumps`` fallback hook: also covers the types orjson handles natively."""
    if isinstance(obj, _dt.datetime):
        text = obj.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(obj, _dt.date | _dt.time):
        return obj.isoformat()
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return json_default(obj)


def safe_str(obj: Any) -> str:
    """``str(obj)``, falling back to a repr when ``__str__`` itself raises."""
    try:
        return str(obj)
    except Exception:
        return _safe_repr(obj)


def _safe_repr(obj: Any) -> str:
    # repr() of user objects can raise too; a log call must not.
    try:
        return repr(obj)
    except Exception:
        return f"<unrepresentable {type(obj).__qualname__}>"


def render_json(event_dict: Mapping[str, Any]) -> str:
    """Serialise an event dict to one JSON line (without the newline); never raises."""
    try:
        return orjson.dumps(event_dict, default=json_default, option=_ORJSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError: >64-bit ints, lone surrogates, cycles
        pass
    try:
        return json.dumps(event_dict, default=_stdlib_json_default, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return json.dumps({str(k): _safe_repr(v) for k, v in event_dict.items()}, separators=(",", ":"))


class StructuredEvent(dict[str, Any]):
    """An event dict whose ``str()`` is its JSON line.

    It is what ESCAI loggers pass to stdlib as ``record.msg``: our
    ``ProcessorFormatter`` reads it as a dict, while any other handler
    (pytest's ``caplog``, a handler installed before :func:`configure_logging`)
    calls ``record.getMessage()`` and gets readable JSON instead of a repr.
    """

    __slots__ = ()

    def __str__(self) -> str:
        """Return the event as one JSON line."""
        return render_json(self)
