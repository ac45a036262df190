"""Storage of behaviour analyses: patterns (``behavioral_patterns`` + ``behavioral_pattern_stats``), session
anomalies with their unusual steps and loops, and behaviour clusters; and reading the labelled sessions to analyse.

An analysis has a scope: an agent id, or None for all sessions. Storing a new analysis replaces the patterns and
clusters of the same scope and the anomaly rows of the sessions it analysed, so repeated runs never pile up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.analysis.behaviour.analyser import BehaviourReport, LabelledSession, pattern_id
from escai.model.events import utc_now
from escai.store.queries import MAX_PAGE_SIZE, event_from_row
from escai.store.tables import (
    agent_events,
    behavioral_pattern_stats,
    behavioral_patterns,
    behaviour_clusters,
    monitoring_sessions,
    session_anomalies,
)

_CHUNK = 500  # session ids per IN (...) list: well under every driver's parameter limit


def _scope_is(column: ColumnElement[Any], agent_id: str | None) -> ColumnElement[bool]:
    return column.is_(None) if agent_id is None else column == agent_id


async def load_labelled_sessions(
    connection: AsyncConnection, agent_id: str | None = None, *, labelled_only: bool = True
) -> list[LabelledSession]:
    """Stored sessions (of one agent, when given) with their events in ingest order and their outcomes."""
    table = monitoring_sessions.c
    query = select(table.id, table.outcome_success).order_by(table.started_at, table.id)
    if labelled_only:
        query = query.where(table.outcome_success.is_not(None))
    if agent_id is not None:
        speakers = select(agent_events.c.session_id).where(agent_events.c.agent_id == agent_id)
        query = query.where((table.agent_id == agent_id) | table.id.in_(speakers))
    outcomes = {row.id: row.outcome_success for row in (await connection.execute(query)).all()}
    ids = list(outcomes)
    events: dict[str, list[Any]] = {session_id: [] for session_id in ids}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = await connection.execute(
            select(agent_events).where(agent_events.c.session_id.in_(chunk)).order_by(agent_events.c.seq)
        )
        for row in rows:
            events[row.session_id].append(event_from_row(row))
    return [LabelledSession(session_id, events[session_id], outcomes[session_id]) for session_id in ids]


def _steps_json(report: BehaviourReport, session_id: str) -> list[dict[str, Any]]:
    return [
        {**asdict(anomaly), "event_ids": list(anomaly.event_ids)}
        for anomaly in report.step_anomalies.get(session_id, [])
    ]


def _loops_json(report: BehaviourReport, session_id: str) -> list[dict[str, Any]]:
    return [
        {**asdict(loop), "actions": list(loop.actions), "event_ids": list(loop.event_ids), "length": loop.length}
        for loop in report.loops.get(session_id, [])
    ]


async def store_behaviour_report(connection: AsyncConnection, report: BehaviourReport, agent_id: str | None) -> int:
    """Replace the stored analysis of scope ``agent_id`` with ``report``; return how many patterns were stored."""
    now = utc_now()
    old_patterns = select(behavioral_patterns.c.id).where(_scope_is(behavioral_patterns.c.agent_id, agent_id))
    await connection.execute(
        delete(behavioral_pattern_stats).where(behavioral_pattern_stats.c.pattern_id.in_(old_patterns))
    )
    await connection.execute(delete(behavioral_patterns).where(_scope_is(behavioral_patterns.c.agent_id, agent_id)))
    records = report.behavioral_patterns(agent_id)
    if records:
        await connection.execute(
            insert(behavioral_patterns),
            [{**record.model_dump(), "created_at": now} for record in records],
        )
        await connection.execute(
            insert(behavioral_pattern_stats),
            [
                {
                    "pattern_id": pattern_id(agent_id, pattern.items),
                    "p_value_adjusted": pattern.p_value_adjusted,
                    "odds_ratio": pattern.odds_ratio,
                    "failure_support": pattern.failure_support,
                    "success_support": pattern.success_support,
                    "sessions_analysed": len(report.sequences),
                    "kind": report.config.kind.value,
                    "max_gap": report.config.max_gap,
                }
                for pattern in report.patterns
            ],
        )
    await _store_anomalies(connection, report, now)
    await _store_clusters(connection, report, agent_id, now)
    return len(records)


async def _store_anomalies(connection: AsyncConnection, report: BehaviourReport, now: datetime) -> None:
    ids = report.session_ids
    for start in range(0, len(ids), _CHUNK):
        await connection.execute(
            delete(session_anomalies).where(session_anomalies.c.session_id.in_(ids[start : start + _CHUNK]))
        )
    labels = report.clustering.labels if report.clustering is not None else None
    rows = []
    for index, sequence in enumerate(report.sequences):
        score = report.session_anomalies.get(sequence.session_id)
        if score is None:
            continue
        rows.append(
            {
                "session_id": sequence.session_id,
                "agent_id": sequence.agent_id or None,
                "score": score.score,
                "is_anomalous": score.is_anomalous,
                "explanation": score.explanation,
                "unusual_features": [asdict(feature) for feature in score.unusual],
                "steps": _steps_json(report, sequence.session_id),
                "loops": _loops_json(report, sequence.session_id),
                "loop_share": report.loop_shares.get(sequence.session_id, 0.0),
                "cluster": labels[index] if labels is not None else None,
                "created_at": now,
            }
        )
    if rows:
        await connection.execute(insert(session_anomalies), rows)


async def _store_clusters(
    connection: AsyncConnection, report: BehaviourReport, agent_id: str | None, now: datetime
) -> None:
    await connection.execute(delete(behaviour_clusters).where(_scope_is(behaviour_clusters.c.agent_id, agent_id)))
    if report.clustering is None:
        return
    rows = [
        {
            "agent_id": agent_id,
            "label": cluster.label,
            "size": cluster.size,
            "success_rate": cluster.success_rate,
            "silhouette": report.clustering.silhouette,
            "description": cluster.description,
            "centroid": cluster.centroid,
            "patterns": [{**asdict(pattern), "items": list(pattern.items)} for pattern in cluster.patterns],
            "session_ids": list(cluster.session_ids),
            "created_at": now,
        }
        for cluster in report.clustering.clusters
    ]
    if rows:
        await connection.execute(insert(behaviour_clusters), rows)


@dataclass(frozen=True, slots=True)
class StoredPattern:
    """A stored pattern with its outcome statistics."""

    id: str
    agent_id: str | None
    sequence: list[str]
    support: int
    failure_support: int
    success_support: int
    sessions_analysed: int
    success_rate: float | None
    lift_toward_failure: float | None
    odds_ratio: float | None
    p_value: float | None
    p_value_adjusted: float | None
    direction: str
    """``failure`` (lift above 1), ``success`` (below 1), ``none`` or ``unknown``."""
    kind: str
    max_gap: int | None
    session_ids: list[str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PatternFilter:
    """Which stored patterns to list; ``None`` means no constraint (``agent_id`` None: every scope)."""

    agent_id: str | None = None
    max_p_adjusted: float | None = None
    min_support: int | None = None
    direction: str | None = None
    """``failure`` or ``success``."""


def _direction(lift: float | None) -> str:
    if lift is None:
        return "unknown"
    return "failure" if lift > 1 else "success" if lift < 1 else "none"


def _pattern_query(where: PatternFilter) -> Select[Any]:
    patterns, stats = behavioral_patterns.c, behavioral_pattern_stats.c
    query = select(behavioral_patterns, behavioral_pattern_stats).join(
        behavioral_pattern_stats, stats.pattern_id == patterns.id
    )
    if where.agent_id is not None:
        query = query.where(patterns.agent_id == where.agent_id)
    if where.max_p_adjusted is not None:
        query = query.where(stats.p_value_adjusted <= where.max_p_adjusted)
    if where.min_support is not None:
        query = query.where(patterns.support >= where.min_support)
    if where.direction == "failure":
        query = query.where(patterns.lift_toward_failure > 1)
    elif where.direction == "success":
        query = query.where(patterns.lift_toward_failure < 1)
    return query


async def list_patterns(
    connection: AsyncConnection, where: PatternFilter, limit: int = 50, offset: int = 0
) -> tuple[list[StoredPattern], int]:
    """Stored patterns matching ``where``, most significant first (BH-adjusted, then raw p, then support), and
    how many match in all."""
    query = _pattern_query(where)
    total = int((await connection.execute(select(func.count()).select_from(query.subquery()))).scalar_one())
    patterns, stats = behavioral_patterns.c, behavioral_pattern_stats.c
    # Portable NULLS LAST: untested patterns (no outcome labels) sort after every tested one.
    ordered = query.order_by(
        case((stats.p_value_adjusted.is_(None), 1), else_=0),
        stats.p_value_adjusted,
        patterns.p_value,
        patterns.support.desc(),
        patterns.id,
    )
    rows = (await connection.execute(ordered.limit(max(1, min(limit, MAX_PAGE_SIZE))).offset(max(0, offset)))).all()
    return [
        StoredPattern(
            id=row.id,
            agent_id=row.agent_id,
            sequence=list(row.sequence),
            support=row.support,
            failure_support=row.failure_support,
            success_support=row.success_support,
            sessions_analysed=row.sessions_analysed,
            success_rate=row.success_rate,
            lift_toward_failure=row.lift_toward_failure,
            odds_ratio=row.odds_ratio,
            p_value=row.p_value,
            p_value_adjusted=row.p_value_adjusted,
            direction=_direction(row.lift_toward_failure),
            kind=row.kind,
            max_gap=row.max_gap,
            session_ids=list(row.session_ids),
            created_at=row.created_at,
        )
        for row in rows
    ], total


@dataclass(frozen=True, slots=True)
class StoredSessionAnomaly:
    """A session's anomaly score, its most unusual steps and its loops."""

    session_id: str
    agent_id: str | None
    score: float
    is_anomalous: bool
    explanation: str
    unusual_features: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    loops: list[dict[str, Any]]
    loop_share: float
    cluster: int | None
    created_at: datetime


def _anomaly_from_row(row: Any) -> StoredSessionAnomaly:
    return StoredSessionAnomaly(
        session_id=row.session_id,
        agent_id=row.agent_id,
        score=row.score,
        is_anomalous=row.is_anomalous,
        explanation=row.explanation,
        unusual_features=list(row.unusual_features),
        steps=list(row.steps),
        loops=list(row.loops),
        loop_share=row.loop_share,
        cluster=row.cluster,
        created_at=row.created_at,
    )


async def list_session_anomalies(
    connection: AsyncConnection,
    agent_id: str | None = None,
    *,
    anomalous_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[StoredSessionAnomaly]:
    """Session anomaly scores, most unusual first."""
    query: Select[Any] = select(session_anomalies)
    if agent_id is not None:
        query = query.where(session_anomalies.c.agent_id == agent_id)
    if anomalous_only:
        query = query.where(session_anomalies.c.is_anomalous.is_(True))
    query = query.order_by(session_anomalies.c.score.desc(), session_anomalies.c.session_id)
    rows = (await connection.execute(query.limit(max(1, min(limit, MAX_PAGE_SIZE))).offset(max(0, offset)))).all()
    return [_anomaly_from_row(row) for row in rows]


async def get_session_anomaly(connection: AsyncConnection, session_id: str) -> StoredSessionAnomaly | None:
    """One session's stored anomaly analysis, or None when it has not been analysed."""
    query = select(session_anomalies).where(session_anomalies.c.session_id == session_id)
    row = (await connection.execute(query)).first()
    return None if row is None else _anomaly_from_row(row)


@dataclass(frozen=True, slots=True)
class StoredCluster:
    """A stored behaviour cluster."""

    agent_id: str | None
    label: int
    size: int
    success_rate: float | None
    silhouette: float
    description: str
    centroid: dict[str, float]
    patterns: list[dict[str, Any]]
    session_ids: list[str]
    created_at: datetime


async def list_clusters(connection: AsyncConnection, agent_id: str | None = None) -> list[StoredCluster]:
    """The behaviour clusters of one scope (``agent_id`` None: the all-sessions scope), by label."""
    query = (
        select(behaviour_clusters)
        .where(_scope_is(behaviour_clusters.c.agent_id, agent_id))
        .order_by(behaviour_clusters.c.label)
    )
    return [
        StoredCluster(
            agent_id=row.agent_id,
            label=row.label,
            size=row.size,
            success_rate=row.success_rate,
            silhouette=row.silhouette,
            description=row.description,
            centroid=dict(row.centroid),
            patterns=list(row.patterns),
            session_ids=list(row.session_ids),
            created_at=row.created_at,
        )
        for row in (await connection.execute(query)).all()
    ]
