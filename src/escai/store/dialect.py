"""The one place where SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Insert, Table, func
from sqlalchemy.dialects import postgresql, sqlite

Excluded = Any  # the dialect's ``excluded`` namespace: the row proposed for insertion


def _dialect_insert(table: Table, dialect_name: str) -> Any:
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    if dialect_name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"dialect {dialect_name!r} is not supported (use sqlite or postgresql)")


def insert_ignoring_duplicates(table: Table, dialect_name: str) -> Insert:
    """An INSERT that skips rows whose primary key already exists (idempotent re-delivery)."""
    statement: Insert = _dialect_insert(table, dialect_name).on_conflict_do_nothing()
    return statement


def upsert(
    table: Table,
    dialect_name: str,
    key: list[str],
    updates: Callable[[Excluded], Mapping[str, ColumnElement[Any] | Any]],
) -> Insert:
    """An INSERT that, when a row with the same ``key`` exists, sets the columns ``updates(excluded)`` names.

    ``excluded`` refers to the row that was proposed, e.g. ``lambda ex: {"last_seen": ex.last_seen}``.
    """
    statement = _dialect_insert(table, dialect_name)
    result: Insert = statement.on_conflict_do_update(
        index_elements=key, set_=dict(updates(statement.excluded))
    )
    return result


def greatest(dialect_name: str, *values: ColumnElement[Any]) -> ColumnElement[Any]:
    """The largest of several values in one row (``max(a, b)`` on SQLite, ``greatest`` on PostgreSQL)."""
    if dialect_name == "sqlite":
        return func.max(*values)
    return func.greatest(*values)


def least(dialect_name: str, *values: ColumnElement[Any]) -> ColumnElement[Any]:
    """The smallest of several values in one row (``min(a, b)`` on SQLite, ``least`` on PostgreSQL)."""
    if dialect_name == "sqlite":
        return func.min(*values)
    return func.least(*values)
