"""Facts from structured tool results: JSON (or Python-literal) values turned into (subject, relation, object).

A dict is an entity. Its subject is the value of an identifier key (``id``, ``*_id``, ``*_number``, ...), else of a
name key (``name``, ``title``), else the subject it sits under (the tool's subject at the top). Every other key is
a relation: a scalar value becomes the object; a nested dict without an identifier is flattened into dotted
relations of the same subject (``available_seats.economy``); a nested dict or list item with an identifier
becomes an entity of its own, linked from its parent by the key it sat under. The walk is breadth-first, so the
top-level facts come before the details, and it stops at a depth, at a number of items per list and at the
collector's limit.
"""

from __future__ import annotations

import ast
import contextlib
from collections import deque
from collections.abc import Mapping
from typing import Any, Final

import orjson

from escai.analysis.epistemic.entities import (
    ID,
    NUMBER,
    PERSON,
    VALUE,
    FactCollector,
    entity_kind,
    is_id_key,
    kind_of_value,
    relation_name,
)

MAX_DEPTH: Final = 4
"""Nesting levels followed below the top value."""
MAX_LIST_ITEMS: Final = 12
"""Items of one list turned into facts; the rest of a long search result adds little."""
MAX_JSON_CHARS: Final = 400_000
"""Longer outputs are read as text: parsing them whole would not fit the live path's time budget."""
MAX_LITERAL_CHARS: Final = 20_000
"""Python-literal outputs (``{'success': True}``) are parsed with :func:`ast.literal_eval` only up to this size."""
NAME_KEYS: Final = ("name", "title", "slug", "key")
"""Keys whose short scalar value names an entity that has no identifier."""
_MAX_NAME_LABEL = 80
_PARTIAL_NAME_PREFIXES = ("first", "last", "middle", "given", "family", "sur", "nick", "display")

_Scalar = str | int | float | bool


def parse_structured(text: str) -> Any | None:
    """The JSON (or Python-literal) value ``text`` holds, or None when it holds none.

    Only text that starts with ``{`` or ``[`` is tried, so prose and code outputs cost one character test.
    Python literals are what frameworks print with ``str(dict)``; they are parsed without evaluating code.
    """
    head = text[:64].lstrip()
    if not head or head[0] not in "{[" or len(text) > MAX_JSON_CHARS:
        return None  # decided before copying: most outputs are text, some are megabytes
    stripped = text.strip()
    if stripped[-1] not in "}]":
        return None
    with contextlib.suppress(orjson.JSONDecodeError):
        return orjson.loads(stripped)
    if "'" in stripped and len(stripped) <= MAX_LITERAL_CHARS:
        with contextlib.suppress(ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return ast.literal_eval(stripped)
    return None


def _scalar_text(value: _Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _identity(record: Mapping[Any, Any]) -> tuple[str, str] | None:
    """The label and kind naming ``record``: its identifier, else its name; None when it has neither."""
    for key, value in record.items():
        if isinstance(key, str) and is_id_key(key) and isinstance(value, str | int) and not isinstance(value, bool):
            label = str(value).strip()
            if label and " " not in label:
                return label, ID
    for key in NAME_KEYS:
        value = record.get(key)
        if isinstance(value, str) and 0 < len(value.strip()) <= _MAX_NAME_LABEL:
            return value.strip(), kind_of_value(key, value.strip())
    for key, value in record.items():
        # "account_name", "app_name", "file_name" name their record; a first or last name is only part of one.
        if (
            isinstance(key, str)
            and key.endswith("_name")
            and not key.startswith(_PARTIAL_NAME_PREFIXES)
            and isinstance(value, str)
            and 0 < len(value.strip()) <= _MAX_NAME_LABEL
        ):
            return value.strip(), kind_of_value(key, value.strip())
    return None


def _person_name(record: Mapping[Any, Any]) -> str | None:
    """A person's full name when ``record`` splits it into first and last names (a common API shape)."""
    first = record.get("first_name", record.get("firstName", record.get("given_name")))
    last = record.get("last_name", record.get("lastName", record.get("family_name")))
    if isinstance(first, str) and isinstance(last, str) and first.strip() and last.strip():
        return f"{first.strip()} {last.strip()}"
    return None


def _join(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def collect_structured(
    value: Any, subject: str, subject_kind: str, collector: FactCollector, *, top_relation: str = "result"
) -> None:
    """Add the facts of a parsed JSON ``value`` reported about ``subject`` to ``collector``.

    A top-level record with an identifier is linked from ``subject`` by ``top_relation``; a bare scalar gives a
    fact only when it is not a number (a number without a key says nothing on its own).
    """
    # Each queued item: the value, the entity it describes, that entity's kind, the key path leading to it.
    queue: deque[tuple[Any, str, str, str, int]] = deque([(value, subject, subject_kind, "", 0)])
    while queue and not collector.full:
        item, owner, owner_kind, path, depth = queue.popleft()
        if isinstance(item, Mapping):
            _walk_record(item, owner, owner_kind, path, depth, queue, collector, top_relation)
            continue
        if isinstance(item, list | tuple):
            for element in item[:MAX_LIST_ITEMS]:
                if isinstance(element, Mapping | list | tuple):
                    if depth < MAX_DEPTH:
                        queue.append((element, owner, owner_kind, path, depth + 1))
                elif path and not _add_keyed_scalar(owner, owner_kind, path, path, element, collector):
                    return
                elif not path and isinstance(element, str):
                    collector.add(owner, owner_kind, top_relation, element)
        elif not path and isinstance(item, str) and item.strip():
            collector.add(owner, owner_kind, top_relation, item)


def _walk_record(
    record: Mapping[Any, Any],
    owner: str,
    owner_kind: str,
    path: str,
    depth: int,
    queue: deque[tuple[Any, str, str, str, int]],
    collector: FactCollector,
    top_relation: str,
) -> None:
    identity = _identity(record)
    if identity is not None and identity[0] != owner:
        label, kind = identity
        if not collector.add(owner, owner_kind, relation_name(path) or top_relation, label, kind):
            return
        owner, owner_kind, path = label, kind, ""
    full_name = _person_name(record)
    if full_name is not None:
        relation = relation_name(path if path.endswith("name") else _join(path, "name"))
        if not collector.add(owner, owner_kind, relation, full_name, PERSON):
            return
    for key, item in record.items():
        key_path = _join(path, key)
        if isinstance(item, Mapping | list | tuple):
            if depth >= MAX_DEPTH or not item:
                continue
            if isinstance(item, Mapping) and _identity(item) is None and _keyed_by_ids(item):
                # {"credit_card_4421486": {...}, ...}: the keys are the entities.
                relation = relation_name(key_path)
                for child_key, child in list(item.items())[:MAX_LIST_ITEMS]:
                    if not collector.add(owner, owner_kind, relation, str(child_key), ID):
                        return
                    queue.append((child, str(child_key), ID, "", depth + 1))
                continue
            queue.append((item, owner, owner_kind, key_path, depth + 1))
        elif not _add_keyed_scalar(owner, owner_kind, key_path, str(key), item, collector):
            return


def _keyed_by_ids(record: Mapping[Any, Any]) -> bool:
    """Whether every key of ``record`` looks like an identifier and every value is a record."""
    return all(
        isinstance(key, str) and entity_kind(key) == ID and isinstance(value, Mapping) for key, value in record.items()
    )


def _add_keyed_scalar(owner: str, owner_kind: str, path: str, key: str, value: Any, collector: FactCollector) -> bool:
    """Add ``owner --path--> value``; True while the collector has room."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    relation = relation_name(path)
    if not relation:
        return True
    if isinstance(value, bool):
        return collector.add(owner, owner_kind, relation, _scalar_text(value), VALUE)
    if isinstance(value, int | float):
        if str(value) == owner:
            return True
        return collector.add(owner, owner_kind, relation, _scalar_text(value), ID if is_id_key(key) else NUMBER)
    text = str(value).strip()
    if text == owner:
        return True  # the record's own identifier, already its subject
    return collector.add(owner, owner_kind, relation, text, kind_of_value(key, text))
