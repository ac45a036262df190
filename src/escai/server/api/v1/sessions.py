"""``/api/v1/monitoring/sessions``: list sessions, one session, its events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from escai.model.records import MonitoringSession, SessionStatus
from escai.server.deps import ConnectionDep
from escai.server.schemas import EventPageResponse, SessionPageResponse
from escai.store.queries import EventFilter, SessionFilter, get_session, list_events, list_sessions

router = APIRouter(prefix="/monitoring/sessions", tags=["sessions"])


@router.get("", operation_id="list_sessions", summary="List sessions", response_model=SessionPageResponse)
async def get_sessions(
    connection: ConnectionDep,
    agent_id: str | None = None,
    status_: Annotated[SessionStatus | None, Query(alias="status")] = None,
    framework: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SessionPageResponse:
    """Sessions, newest first, filtered by agent (any agent that spoke in them), status, framework, start."""
    page = await list_sessions(
        connection,
        SessionFilter(agent_id=agent_id, status=status_, framework=framework, since=since),
        limit,
        offset,
    )
    return SessionPageResponse(sessions=page.sessions, total=page.total, limit=limit, offset=offset)


@router.get(
    "/{session_id:path}/events",
    operation_id="list_session_events",
    summary="Events of a session",
    response_model=EventPageResponse,
)
async def get_session_events(
    session_id: str,
    connection: ConnectionDep,
    cursor: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPageResponse:
    """The session's events in ingest order."""
    page = await list_events(connection, EventFilter(session_id=session_id, after_seq=cursor), limit)
    return EventPageResponse(events=page.events, next_cursor=page.next_cursor)


@router.get(
    "/{session_id:path}",
    operation_id="get_session",
    summary="One session",
    response_model=MonitoringSession,
    responses={404: {"description": "No such session."}},
)
async def get_one_session(session_id: str, connection: ConnectionDep) -> MonitoringSession:
    """A session with its agents, status, outcome and annotations."""
    session = await get_session(connection, session_id)
    if session is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no session with id {session_id!r}")
    return session
