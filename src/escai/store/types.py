"""Portable column types: JSON that is JSONB on PostgreSQL, and timestamps that are always UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB

JsonColumn = JSON().with_variant(JSONB(), "postgresql")
"""JSON document column: JSONB (indexable with GIN) on PostgreSQL, JSON text on SQLite."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and read back as an aware UTC datetime on every engine.

    SQLite has no time zone type and returns naive values; PostgreSQL's ``timestamptz`` returns aware ones.
    Normalising here means no caller ever compares a naive with an aware datetime.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite stores text; dropping tzinfo keeps the stored form sortable and comparable as text.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
