"""Causal relationships in the database: save a discovery's results, list them with filters.

Cross-session discoveries (``session_id`` None) replace the earlier results of the same method, so running
discovery twice leaves one set of rows per method rather than two.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.model.records import CausalRelationship
from escai.store.queries import MAX_PAGE_SIZE
from escai.store.tables import causal_relationships, epistemic_states

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class RelationshipFilter:
    """Which relationships to list; ``None`` means no constraint."""

    method: str | None = None
    session_id: str | None = None
    min_confidence: float | None = None


async def delete_relationships(
    connection: AsyncConnection, methods: Collection[str], *, session_id: str | None = None
) -> int:
    """Remove the stored relationships of ``methods`` (cross-session ones, or one session's); returns how many."""
    if not methods:
        return 0
    table = causal_relationships.c
    scope = table.session_id.is_(None) if session_id is None else table.session_id == session_id
    result = await connection.execute(delete(causal_relationships).where(table.method.in_(list(methods)), scope))
    return int(result.rowcount or 0)


async def save_relationships(
    connection: AsyncConnection, relationships: Sequence[CausalRelationship], *, replace_methods: Collection[str] = ()
) -> int:
    """Store relationships, first removing earlier cross-session results of ``replace_methods``; returns the count.

    Run it inside a transaction (``engine.begin()``) so readers see the old set or the new one, never neither.
    """
    await delete_relationships(connection, replace_methods)
    if not relationships:
        return 0
    now = datetime.now(UTC)
    rows = [{**found.model_dump(), "created_at": now} for found in relationships]
    await connection.execute(insert(causal_relationships), rows)
    return len(rows)


def _relationship_from_row(row: Any) -> CausalRelationship:
    return CausalRelationship(
        cause=row.cause,
        effect=row.effect,
        strength=row.strength,
        confidence=row.confidence,
        method=row.method,
        lag=row.lag,
        session_id=row.session_id,
    )


async def list_relationships(
    connection: AsyncConnection, where: RelationshipFilter, limit: int = MAX_PAGE_SIZE
) -> list[CausalRelationship]:
    """Stored relationships matching ``where``, most confident first, then strongest."""
    table = causal_relationships.c
    query = select(causal_relationships)
    if where.method is not None:
        query = query.where(table.method == where.method)
    if where.session_id is not None:
        query = query.where(table.session_id == where.session_id)
    if where.min_confidence is not None:
        query = query.where(table.confidence >= where.min_confidence)
    query = query.order_by(table.confidence.desc(), func.abs(table.strength).desc(), table.id)
    rows = (await connection.execute(query.limit(max(1, min(limit, MAX_PAGE_SIZE))))).all()
    return [_relationship_from_row(row) for row in rows]


async def load_step_confidence(
    connection: AsyncConnection, session_ids: Collection[str]
) -> dict[str, dict[int, float]]:
    """Stored epistemic confidence per step (averaged over agents) of each session: session -> step -> value."""
    if not session_ids:
        return {}
    table = epistemic_states.c
    wanted = sorted(session_ids)
    found: dict[str, dict[int, float]] = {}
    # Chunks keep the IN list under SQLite's bound-parameter limit however many sessions are asked for.
    for start in range(0, len(wanted), _CHUNK):
        query = (
            select(table.session_id, table.step_index, func.avg(table.confidence).label("confidence"))
            .where(table.session_id.in_(wanted[start : start + _CHUNK]))
            .group_by(table.session_id, table.step_index)
        )
        for session_id, step_index, confidence in (await connection.execute(query)).all():
            found.setdefault(session_id, {})[int(step_index)] = float(confidence)
    return found
