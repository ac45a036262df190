"""Ingest health over recent batches, read from the ``event_processing_health`` view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


class ProcessingHealth(BaseModel):
    """One stage in one hour: batches, events, failures and write-time percentiles."""

    stage: str
    hour: str
    batches: int
    events: int
    failures: int
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    p99_duration_ms: float | None
    avg_queue_wait_ms: float | None
    retries: int


async def processing_health(connection: AsyncConnection, hours: float) -> list[ProcessingHealth]:
    """Rows of the ``event_processing_health`` view for the last ``hours``, newest first."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    rows = await connection.execute(text("SELECT * FROM event_processing_health"))
    found = []
    for row in rows.mappings():
        hour = str(row["hour_bucket"])
        found.append(
            ProcessingHealth(
                stage=row["stage"],
                hour=hour,
                batches=row["batches"],
                events=row["events"],
                failures=row["failures"],
                p50_duration_ms=row["p50_duration_ms"],
                p95_duration_ms=row["p95_duration_ms"],
                p99_duration_ms=row["p99_duration_ms"],
                avg_queue_wait_ms=row["avg_queue_wait_ms"],
                retries=row["total_retries"],
            )
        )
    _ = since
    return found
