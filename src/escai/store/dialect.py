"""The one place where SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, Table, func, select
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
        return _sqlite_timestamp
    return lambda value: value if value.tzinfo is UTC else value.astimezone(UTC)


def _sqlite_timestamp(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # The naive UTC text SQLAlchemy writes for DATETIME: the first 26 characters of the aware form.
    return value.isoformat(" ", "microseconds")[:26]


async def bulk_insert_new(
    connection: AsyncConnection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> set[Any]:
    """Insert many rows, skipping those that violate a unique constraint; return the first column of the rows
    actually inserted (the new ids).

    This bypasses SQLAlchemy's per-row parameter processing (the ingest hot path); values must already be in
    driver form: JSON as text, timestamps from :func:`timestamp_parameter`.
    """
    if not rows:
        return set()
    dialect_name = connection.dialect.name
    if dialect_name == "postgresql":
        return await _bulk_insert_postgresql(connection, table, columns, rows)
    if dialect_name != "sqlite":
        raise NotImplementedError(f"dialect {dialect_name!r} is not supported (use sqlite or postgresql)")
    # One multi-row INSERT ... RETURNING per chunk rather than executemany: parameters are bound in one C call,
    # the statement steps without the GIL, and RETURNING names exactly the rows that were new.
    per_row = "(" + ", ".join("?" for _ in columns) + ")"
    chunk = max(1, _SQLITE_MAX_PARAMETERS // len(columns))
    inserted: set[Any] = set()
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        statement = _insert_sql(table, columns, [per_row] * len(part)) + f" RETURNING {columns[0]}"
        result = await connection.exec_driver_sql(statement, tuple(value for row in part for value in row))
        inserted.update(row[0] for row in result.fetchall())
    return inserted


async def _bulk_insert_postgresql(
    connection: AsyncConnection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> set[Any]:
    # asyncpg's executemany pipelines the batch over the binary protocol but returns no rows, so the keys that
    # already exist are looked up first. Another process inserting the same key in between is still caught by
    # ON CONFLICT (the row is stored once); only its "new" count could then be off by one.
    key = table.c[columns[0]]
    keys = [row[0] for row in rows]
    existing: set[Any] = set()
    for start in range(0, len(keys), 1000):
        query = select(key).where(key.in_(keys[start : start + 1000]))
        existing.update((await connection.execute(query)).scalars().all())
    new_rows = [row for row in rows if row[0] not in existing]
    if new_rows:
        placeholders = ", ".join(f"${index}" for index in range(1, len(columns) + 1))
        await connection.exec_driver_sql(_insert_sql(table, columns, [f"({placeholders})"]), new_rows)
    return {row[0] for row in new_rows}


# SQLite has allowed 32,766 parameters per statement since 3.32 (2020); stay well below it.
_SQLITE_MAX_PARAMETERS = 30_000


def _insert_sql(table: Table, columns: Sequence[str], value_groups: list[str]) -> str:
    names = ", ".join(columns)
    return f"INSERT INTO {table.name} ({names}) VALUES {', '.join(value_groups)} ON CONFLICT DO NOTHING"  # noqa: S608
