"""The one place where SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

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
    result: Insert = statement.on_conflict_do_update(index_elements=key, set_=dict(updates(statement.excluded)))
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


def timestamp_parameter(dialect_name: str) -> Callable[[datetime], Any]:
    """How a UTC datetime is passed to the driver on raw bulk inserts, matching :class:`UtcDateTime`.

    SQLite stores the naive UTC text form SQLAlchemy itself writes (fixed width, so text order is time order);
    PostgreSQL takes the aware datetime.
    """
    if dialect_name == "sqlite":
        return lambda value: value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return lambda value: value.astimezone(UTC)


async def bulk_insert_ignoring_duplicates(
    connection: AsyncConnection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert many rows through the driver's executemany, skipping rows that violate a unique constraint.

    This bypasses SQLAlchemy's per-row parameter processing (the ingest hot path); values must already be in
    driver form: JSON as text, timestamps from :func:`timestamp_parameter`.
    """
    if not rows:
        return
    dialect_name = connection.dialect.name
    if dialect_name == "sqlite":
        placeholders = ", ".join("?" for _ in columns)
    elif dialect_name == "postgresql":
        placeholders = ", ".join(f"${index}" for index in range(1, len(columns) + 1))
    else:
        raise NotImplementedError(f"dialect {dialect_name!r} is not supported (use sqlite or postgresql)")
    statement = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders}) "  # noqa: S608 - names are ours
        "ON CONFLICT DO NOTHING"
    )
    await connection.exec_driver_sql(statement, list(rows))
