"""Read queries over events, sessions and agents. Route handlers call these; they hold no SQL themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import MonitoringSession, SessionStatus
from escai.store.tables import agent_events, agents, dead_letter_events, monitoring_sessions

MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to list; ``None`` means no constraint."""

    session_id: str | None = None
    agent_id: str | None = None
    types: Sequence[EventType] | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int | None = None


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of events and the cursor for the next page (None at the end)."""

    events: list[AgentEvent]
    next_cursor: int | None


def event_from_row(row: Any) -> AgentEvent:
    """Rebuild an :class:`AgentEvent` from an ``agent_events`` row."""
    return AgentEvent.model_construct(
        id=row.id,
        session_id=row.session_id,
        agent_id=row.agent_id,
        agent_name=row.agent_name,
        framework=row.framework,
        type=EventType(row.type),
        name=row.name,
        timestamp=row.timestamp,
        parent_id=row.parent_id,
        trace_id=row.trace_id,
        span_id=row.span_id,
        step_index=row.step_index,
        content=row.content,
        attributes=row.attributes or {},
        tokens_input=row.tokens_input,
        tokens_output=row.tokens_output,
        cost=row.cost,
        duration_ms=row.duration_ms,
        status=EventStatus(row.status),
    )


async def list_events(connection: AsyncConnection, where: EventFilter, limit: int = 100) -> EventPage:
    """Events matching ``where`` in ingest order, ``limit`` at a time (keyset pagination on ``seq``)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    table = agent_events.c
    query = select(agent_events).order_by(table.seq).limit(limit + 1)
    if where.session_id is not None:
        query = query.where(table.session_id == where.session_id)
    if where.agent_id is not None:
        query = query.where(table.agent_id == where.agent_id)
    if where.types:
        query = query.where(table.type.in_([kind.value for kind in where.types]))
    if where.since is not None:
        query = query.where(table.timestamp >= where.since)
    if where.until is not None:
        query = query.where(table.timestamp < where.until)
    if where.after_seq is not None:
        query = query.where(table.seq > where.after_seq)
    rows = (await connection.execute(query)).all()
    next_cursor = rows[limit - 1].seq if len(rows) > limit else None
    return EventPage(events=[event_from_row(row) for row in rows[:limit]], next_cursor=next_cursor)


async def count_events(connection: AsyncConnection, session_id: str | None = None) -> int:
    """How many events are stored (in one session, when given)."""
    query = select(func.count()).select_from(agent_events)
    if session_id is not None:
        query = query.where(agent_events.c.session_id == session_id)
    return int((await connection.execute(query)).scalar_one())


def _session_from_row(row: Any, agent_ids: list[str]) -> MonitoringSession:
    return MonitoringSession(
        id=row.id,
        agent_id=row.agent_id,
        agent_ids=agent_ids,
        framework=row.framework,
        task=row.task,
        started_at=row.started_at,
        ended_at=row.ended_at,
        status=SessionStatus(row.status),
        outcome_success=row.outcome_success,
        outcome_score=row.outcome_score,
        summary=row.summary,
        event_count=row.event_count,
        annotations=row.annotations or {},
    )


async def _agents_of_sessions(connection: AsyncConnection, session_ids: list[str]) -> dict[str, list[str]]:
    if not session_ids:
        return {}
    query = (
        select(agent_events.c.session_id, agent_events.c.agent_id)
        .where(agent_events.c.session_id.in_(session_ids))
        .group_by(agent_events.c.session_id, agent_events.c.agent_id)
        .order_by(agent_events.c.session_id, func.min(agent_events.c.seq))
    )
    found: dict[str, list[str]] = {session_id: [] for session_id in session_ids}
    for session_id, agent_id in (await connection.execute(query)).all():
        found[session_id].append(agent_id)
    return found


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """Which sessions to list; ``None`` means no constraint."""

    agent_id: str | None = None
    status: SessionStatus | None = None
    framework: str | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class SessionPage:
    """One page of sessions, newest first, with the total that match."""

    sessions: list[MonitoringSession]
    total: int


def _filtered_sessions(where: SessionFilter) -> Select[Any]:
    table = monitoring_sessions.c
    query = select(monitoring_sessions)
    if where.agent_id is not None:
        # A session belongs to every agent that spoke in it, not only to the one that started it.
        speakers = select(agent_events.c.session_id).where(agent_events.c.agent_id == where.agent_id)
        query = query.where((table.agent_id == where.agent_id) | table.id.in_(speakers))
    if where.status is not None:
        query = query.where(table.status == where.status.value)
    if where.framework is not None:
        query = query.where(table.framework == where.framework)
    if where.since is not None:
        query = query.where(table.started_at >= where.since)
    return query


async def list_session_events(connection: AsyncConnection, session_id: str) -> list[AgentEvent]:
    """Every stored event of one session, in ingest order (what the analyses read a session with)."""
    rows = await connection.execute(
        select(agent_events).where(agent_events.c.session_id == session_id).order_by(agent_events.c.seq)
    )
    return [event_from_row(row) for row in rows]


async def list_sessions(
    connection: AsyncConnection, where: SessionFilter, limit: int = 50, offset: int = 0
) -> SessionPage:
    """Sessions matching ``where``, newest first."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    filtered = _filtered_sessions(where)
    total = (await connection.execute(select(func.count()).select_from(filtered.subquery()))).scalar_one()
    query = filtered.order_by(monitoring_sessions.c.started_at.desc(), monitoring_sessions.c.id)
    rows = (await connection.execute(query.limit(limit).offset(max(0, offset)))).all()
    speakers = await _agents_of_sessions(connection, [row.id for row in rows])
    return SessionPage([_session_from_row(row, speakers[row.id]) for row in rows], int(total))


async def get_session(connection: AsyncConnection, session_id: str) -> MonitoringSession | None:
    """One session by id, or None."""
    row = (await connection.execute(select(monitoring_sessions).where(monitoring_sessions.c.id == session_id))).first()
    if row is None:
        return None
    return _session_from_row(row, (await _agents_of_sessions(connection, [session_id]))[session_id])


@dataclass(frozen=True, slots=True)
class AgentSummary:
    """An agent ESCAI has seen, with how much it has done."""

    id: str
    name: str | None
    framework: str | None
    first_seen: datetime
    last_seen: datetime
    session_count: int
    event_count: int


async def list_agents(
    connection: AsyncConnection, limit: int = 100, offset: int = 0, agent_id: str | None = None
) -> list[AgentSummary]:
    """Agents, most recently active first, with their session and event counts (one agent when ``agent_id``)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    counted = select(
        agent_events.c.agent_id,
        func.count(func.distinct(agent_events.c.session_id)).label("sessions"),
        func.count().label("events"),
    ).group_by(agent_events.c.agent_id)
    query = select(agents)
    if agent_id is not None:
        counted = counted.where(agent_events.c.agent_id == agent_id)
        query = query.where(agents.c.id == agent_id)
    counts = counted.subquery()
    query = (
        query.add_columns(counts.c.sessions, counts.c.events)
        .join(counts, counts.c.agent_id == agents.c.id, isouter=True)
        .order_by(agents.c.last_seen.desc(), agents.c.id)
        .limit(limit)
        .offset(max(0, offset))
    )
    return [
        AgentSummary(
            id=row.id,
            name=row.name,
            framework=row.framework,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            session_count=row.sessions or 0,
            event_count=row.events or 0,
        )
        for row in (await connection.execute(query)).all()
    ]


async def get_agent(connection: AsyncConnection, agent_id: str) -> AgentSummary | None:
    """One agent by id, or None."""
    found = await list_agents(connection, limit=1, agent_id=agent_id)
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """A stored dead letter."""

    id: int
    received_at: datetime
    source: str
    event_id: str | None
    reason: str
    payload: str


async def list_dead_letters(connection: AsyncConnection, limit: int = 100) -> list[DeadLetterRecord]:
    """The newest dead letters first."""
    query = select(dead_letter_events).order_by(dead_letter_events.c.id.desc()).limit(min(limit, MAX_PAGE_SIZE))
    return [
        DeadLetterRecord(row.id, row.received_at, row.source, row.event_id, row.reason, row.payload)
        for row in (await connection.execute(query)).all()
    ]
