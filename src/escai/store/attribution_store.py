"""Saving and listing failure attributions (the ``failure_attributions`` table); no SQL lives elsewhere for it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.model.records import FailureAttribution, FailureCandidate
from escai.store.tables import failure_attributions

MAX_LISTED = 1000


async def save_attribution(
    connection: AsyncConnection, attribution: FailureAttribution, *, created_at: datetime | None = None
) -> int:
    """Store one attribution (its candidates as JSON, in rank order) and return its row id."""
    result = await connection.execute(
        insert(failure_attributions)
        .values(
            session_id=attribution.session_id,
            method=attribution.method,
            candidates=[candidate.model_dump(mode="json") for candidate in attribution.candidates],
            created_at=created_at or datetime.now(UTC),
        )
        .returning(failure_attributions.c.id)
    )
    return int(result.scalar_one())


async def delete_attributions(connection: AsyncConnection, session_id: str, *, method: str | None = None) -> int:
    """Remove a session's stored attributions (of one method only, when given); return how many were removed."""
    statement = delete(failure_attributions).where(failure_attributions.c.session_id == session_id)
    if method is not None:
        statement = statement.where(failure_attributions.c.method == method)
    result = await connection.execute(statement)
    return int(result.rowcount or 0)


async def list_attributions(
    connection: AsyncConnection, session_id: str, *, method: str | None = None, limit: int = 100
) -> list[FailureAttribution]:
    """A session's stored attributions, newest first, optionally of one method only."""
    query = (
        select(failure_attributions.c.session_id, failure_attributions.c.method, failure_attributions.c.candidates)
        .where(failure_attributions.c.session_id == session_id)
        .order_by(failure_attributions.c.id.desc())
        .limit(max(1, min(limit, MAX_LISTED)))
    )
    if method is not None:
        query = query.where(failure_attributions.c.method == method)
    rows = (await connection.execute(query)).all()
    return [
        FailureAttribution(
            session_id=row.session_id,
            method=row.method,
            candidates=[FailureCandidate.model_validate(candidate) for candidate in row.candidates or []],
        )
        for row in rows
    ]
