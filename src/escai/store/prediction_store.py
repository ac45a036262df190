"""Saving and listing success predictions (the ``predictions`` table), and reading a session's events to predict
from; no SQL for predictions lives elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.model.events import AgentEvent
from escai.model.records import Prediction
from escai.store.queries import MAX_PAGE_SIZE, event_from_row
from escai.store.tables import agent_events, predictions

MAX_LISTED = MAX_PAGE_SIZE


async def save_predictions(
    connection: AsyncConnection, records: Sequence[Prediction], *, created_at: datetime | None = None
) -> int:
    """Store predictions (one row each) and return how many were stored."""
    if not records:
        return 0
    now = created_at or datetime.now(UTC)
    await connection.execute(insert(predictions), [{**record.model_dump(), "created_at": now} for record in records])
    return len(records)


def _prediction(row: Any) -> Prediction:
    return Prediction(
        session_id=row.session_id,
        agent_id=row.agent_id,
        step_index=row.step_index,
        success_probability=row.success_probability,
        failure_risk=row.failure_risk,
        remaining_steps=row.remaining_steps,
        remaining_seconds=row.remaining_seconds,
        confidence=row.confidence,
        model_version=row.model_version,
    )


async def list_predictions(
    connection: AsyncConnection,
    agent_id: str,
    *,
    session_id: str | None = None,
    history: bool = False,
    limit: int = 100,
) -> list[Prediction]:
    """An agent's stored predictions (of one session, when given).

    Without ``history``: the latest prediction of each session, newest session first. With ``history``: every
    stored prediction in the order it was made (by step, then by storage order).
    """
    limit = max(1, min(limit, MAX_LISTED))
    table = predictions.c
    scope = table.agent_id == agent_id
    if session_id is not None:
        scope = scope & (table.session_id == session_id)
    if history:
        query = select(predictions).where(scope).order_by(table.session_id, table.step_index, table.id).limit(limit)
    else:
        latest = select(func.max(table.id).label("id")).where(scope).group_by(table.session_id).subquery()
        query = select(predictions).join(latest, latest.c.id == table.id).order_by(table.id.desc()).limit(limit)
    return [_prediction(row) for row in (await connection.execute(query)).all()]


async def session_events(connection: AsyncConnection, session_id: str) -> list[AgentEvent]:
    """Every stored event of a session, in ingest order."""
    rows = await connection.execute(
        select(agent_events).where(agent_events.c.session_id == session_id).order_by(agent_events.c.seq)
    )
    return [event_from_row(row) for row in rows]
