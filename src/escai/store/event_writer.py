"""Writing a batch of events, with the sessions, agents and dead letters it implies, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Insert, case, func, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import SessionStatus
from escai.store.dialect import bulk_insert_new, greatest, least, timestamp_parameter, upsert
from escai.store.tables import agent_events, agents, dead_letter_events, monitoring_sessions


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record the pipeline refused, kept with the reason so nothing sent is silently lost."""

    source: str
    reason: str
    payload: str
    received_at: datetime
    event_id: str | None = None


@dataclass(slots=True)
class WriteResult:
    """What one batch write stored."""

    stored: list[AgentEvent] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)
    dead_letters: int = 0


EVENT_COLUMNS = (
    "id", "session_id", "agent_id", "agent_name", "framework", "type", "name", "timestamp", "parent_id",
    "trace_id", "span_id", "step_index", "content", "attributes", "tokens_input", "tokens_output", "cost",
    "duration_ms", "status", "ingested_at",
)  # fmt: skip


def event_row(event: AgentEvent, ingested_at: Any, timestamp: Callable[[datetime], Any]) -> tuple[Any, ...]:
    """The ``agent_events`` row of an event in driver form, in :data:`EVENT_COLUMNS` order."""
    return (
        event.id, event.session_id, event.agent_id, event.agent_name, event.framework, event.type.value,
        event.name, timestamp(event.timestamp), event.parent_id, event.trace_id, event.span_id, event.step_index,
        event.content, orjson.dumps(event.attributes).decode(), event.tokens_input, event.tokens_output,
        event.cost, event.duration_ms, event.status.value, ingested_at,
    )  # fmt: skip


def _session_outcome(event: AgentEvent) -> tuple[str, bool | None, float | None]:
    success = event.attributes.get(semconv.ESCAI_OUTCOME_SUCCESS)
    score = event.attributes.get(semconv.ESCAI_OUTCOME_SCORE)
    if not isinstance(success, bool):
        success = None if event.status is EventStatus.UNSET else event.status is EventStatus.OK
    status = SessionStatus.UNKNOWN if success is None else SessionStatus.COMPLETED if success else SessionStatus.FAILED
    return status.value, success, float(score) if isinstance(score, int | float) else None


def _session_rows(events: Sequence[AgentEvent]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for event in events:
        row = rows.get(event.session_id)
        if row is None:
            row = rows[event.session_id] = {
                "id": event.session_id,
                "agent_id": event.agent_id,
                "framework": event.framework,
                "task": None,
                "started_at": event.timestamp,
                "last_event_at": event.timestamp,
                "ended_at": None,
                "status": SessionStatus.RUNNING.value,
                "outcome_success": None,
                "outcome_score": None,
                "event_count": 0,
                "annotations": {},
                "attributes": {},
            }
        row["event_count"] += 1
        row["started_at"] = min(row["started_at"], event.timestamp)
        row["last_event_at"] = max(row["last_event_at"], event.timestamp)
        if event.type is EventType.SESSION_START:
            # The session's owner and task are whatever its start event says, even if other agents spoke first.
            row["agent_id"] = event.agent_id
            row["framework"] = event.framework or row["framework"]
            task = event.attributes.get(semconv.ESCAI_TASK) or event.content
            row["task"] = str(task) if task is not None else None
            annotations = event.attributes.get(semconv.ESCAI_ANNOTATIONS)
            if isinstance(annotations, dict):
                row["annotations"] = annotations
        elif event.type is EventType.SESSION_END:
            row["ended_at"] = event.timestamp
            row["status"], row["outcome_success"], row["outcome_score"] = _session_outcome(event)
    return [rows[key] for key in sorted(rows)]  # sorted keys: concurrent writers lock rows in one order


def _agent_rows(events: Sequence[AgentEvent]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for event in events:
        row = rows.get(event.agent_id)
        if row is None:
            rows[event.agent_id] = {
                "id": event.agent_id,
                "name": event.agent_name,
                "framework": event.framework,
                "first_seen": event.timestamp,
                "last_seen": event.timestamp,
                "attributes": {},
            }
        else:
            row["first_seen"] = min(row["first_seen"], event.timestamp)
            row["last_seen"] = max(row["last_seen"], event.timestamp)
            row["name"] = row["name"] or event.agent_name
            row["framework"] = row["framework"] or event.framework
    return [rows[key] for key in sorted(rows)]


async def write_batch(
    connection: AsyncConnection,
    events: Sequence[AgentEvent],
    dead_letters: Sequence[DeadLetter],
    ingested_at: datetime,
) -> WriteResult:
    """Store events (each id once), update their sessions and agents, and keep the dead letters.

    Runs inside the caller's transaction, so a batch is stored whole or not at all.
    """
    dialect = connection.dialect.name
    result = WriteResult(dead_letters=len(dead_letters))
    unique: dict[str, AgentEvent] = {}
    for event in events:
        if event.id in unique:
            result.duplicate_ids.append(event.id)
        else:
            unique[event.id] = event
    if unique:
        timestamp = timestamp_parameter(dialect)
        ingested = timestamp(ingested_at)
        rows = [event_row(event, ingested, timestamp) for event in unique.values()]
        inserted = await bulk_insert_new(connection, agent_events, EVENT_COLUMNS, rows)
        for event_id, event in unique.items():
            if event_id in inserted:
                result.stored.append(event)
            else:
                result.duplicate_ids.append(event_id)
    if result.stored:
        await _upsert_sessions(connection, dialect, result.stored)
        await _upsert_agents(connection, dialect, result.stored)
    if dead_letters:
        await connection.execute(
            insert(dead_letter_events),
            [
                {
                    "received_at": letter.received_at,
                    "source": letter.source,
                    "event_id": letter.event_id,
                    "reason": letter.reason,
                    "payload": letter.payload,
                }
                for letter in dead_letters
            ],
        )
    return result


@lru_cache(maxsize=4)
def _session_upsert(dialect: str) -> Insert:
    # Built once per dialect: constructing and cache-keying this statement costs milliseconds per batch.
    table = monitoring_sessions.c

    def merge(excluded: Any) -> dict[str, Any]:
        ended = excluded.ended_at.is_not(None)
        starts = excluded.task.is_not(None)
        return {
            "started_at": least(dialect, table.started_at, excluded.started_at),
            "last_event_at": greatest(dialect, table.last_event_at, excluded.last_event_at),
            "event_count": table.event_count + excluded.event_count,
            "agent_id": case((starts, excluded.agent_id), else_=table.agent_id),
            "task": func.coalesce(excluded.task, table.task),
            "annotations": case((starts, excluded.annotations), else_=table.annotations),
            "framework": func.coalesce(table.framework, excluded.framework),
            "ended_at": case((ended, excluded.ended_at), else_=table.ended_at),
            "status": case((ended, excluded.status), else_=table.status),
            "outcome_success": case((ended, excluded.outcome_success), else_=table.outcome_success),
            "outcome_score": case((ended, excluded.outcome_score), else_=table.outcome_score),
        }

    return upsert(monitoring_sessions, dialect, ["id"], merge)


@lru_cache(maxsize=4)
def _agent_upsert(dialect: str) -> Insert:
    table = agents.c

    def merge(excluded: Any) -> dict[str, Any]:
        return {
            "first_seen": least(dialect, table.first_seen, excluded.first_seen),
            "last_seen": greatest(dialect, table.last_seen, excluded.last_seen),
            "name": func.coalesce(excluded.name, table.name),
            "framework": func.coalesce(table.framework, excluded.framework),
        }

    return upsert(agents, dialect, ["id"], merge)


async def _upsert_sessions(connection: AsyncConnection, dialect: str, events: Sequence[AgentEvent]) -> None:
    await connection.execute(_session_upsert(dialect), _session_rows(events))


async def _upsert_agents(connection: AsyncConnection, dialect: str, events: Sequence[AgentEvent]) -> None:
    await connection.execute(_agent_upsert(dialect), _agent_rows(events))
