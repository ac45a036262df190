"""Routes for behaviour patterns, anomalies and clusters.

``POST /analytics/patterns/run`` mines the stored sessions that have an outcome, stores the results and publishes
an ``analysis.result`` change; the ``GET`` routes read what the last analysis stored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from escai.analysis.behaviour.analyser import BehaviourConfig
from escai.analysis.behaviour.prefixspan import PatternKind
from escai.analysis.behaviour.stored import NotEnoughSessionsError, analyse_stored_sessions
from escai.server.deps import ConnectionDep, ServiceDep
from escai.store.pattern_store import (
    PatternFilter,
    StoredCluster,
    StoredPattern,
    StoredSessionAnomaly,
    get_session_anomaly,
    list_clusters,
    list_patterns,
    list_session_anomalies,
)
from escai.store.queries import get_agent, get_session

router = APIRouter(tags=["patterns"])

Direction = Literal["failure", "success"]


class PatternPageResponse(BaseModel):
    """One page of stored patterns, most significant first."""

    patterns: list[StoredPattern]
    total: int
    limit: int
    offset: int


class PatternRunRequest(BaseModel):
    """Settings of a pattern-mining run over the stored sessions that have an outcome."""

    agent_id: str | None = Field(default=None, description="Analyse only this agent's sessions.")
    min_support: float = Field(default=0.1, gt=0, le=1, description="Minimum share of sessions per pattern.")
    max_gap: int | None = Field(default=2, ge=0, le=50, description="Steps allowed between pattern steps.")
    max_length: int = Field(default=5, ge=1, le=8)
    kind: PatternKind = PatternKind.CLOSED
    seed: int = 0


async def _page(connection: ConnectionDep, where: PatternFilter, limit: int, offset: int) -> PatternPageResponse:
    patterns, total = await list_patterns(connection, where, limit, offset)
    return PatternPageResponse(patterns=patterns, total=total, limit=limit, offset=offset)


@router.get(
    "/analytics/patterns",
    operation_id="list_behaviour_patterns",
    summary="Stored behaviour patterns",
    response_model=PatternPageResponse,
)
async def get_patterns(
    connection: ConnectionDep,
    agent_id: Annotated[str | None, Query(description="Only patterns mined for this agent.")] = None,
    max_p_adjusted: Annotated[float | None, Query(ge=0, le=1, description="BH-corrected p-value at most.")] = None,
    min_support: Annotated[int | None, Query(ge=1)] = None,
    direction: Annotated[Direction | None, Query(description="Over-represented in failed or successful runs.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PatternPageResponse:
    """Patterns with support, success rate, lift toward failure and p-values, sorted by corrected p-value."""
    where = PatternFilter(agent_id, max_p_adjusted, min_support, direction)
    return await _page(connection, where, limit, offset)


@router.post(
    "/analytics/patterns/run",
    operation_id="run_behaviour_analysis",
    summary="Mine patterns, anomalies and clusters now",
    responses={422: {"description": "Too few stored sessions with a known outcome."}},
)
async def run_patterns(service: ServiceDep, request: PatternRunRequest | None = None) -> dict[str, Any]:
    """Analyse the stored sessions with outcomes, store the results, publish them live, and return a summary."""
    settings = request or PatternRunRequest()
    config = BehaviourConfig(
        min_support=settings.min_support,
        max_gap=settings.max_gap,
        max_length=settings.max_length,
        kind=settings.kind,
        seed=settings.seed,
    )
    try:
        analysis = await analyse_stored_sessions(service.engine, config, settings.agent_id, service.bus)
    except NotEnoughSessionsError as error:
        raise HTTPException(422, str(error)) from error
    return analysis.summary()


@router.get(
    "/agents/{agent_id}/patterns",
    operation_id="list_agent_patterns",
    summary="Behaviour patterns of an agent",
    response_model=PatternPageResponse,
    responses={404: {"description": "No such agent."}},
)
async def get_agent_patterns(
    agent_id: str,
    connection: ConnectionDep,
    max_p_adjusted: Annotated[float | None, Query(ge=0, le=1)] = None,
    direction: Annotated[Direction | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PatternPageResponse:
    """Patterns mined over this agent's sessions, most significant first."""
    if await get_agent(connection, agent_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no agent with id {agent_id!r}")
    where = PatternFilter(agent_id=agent_id, max_p_adjusted=max_p_adjusted, direction=direction)
    return await _page(connection, where, limit, offset)


@router.get(
    "/analytics/anomalies",
    operation_id="list_session_anomalies",
    summary="Session anomaly scores",
    response_model=list[StoredSessionAnomaly],
)
async def get_anomalies(
    connection: ConnectionDep,
    agent_id: str | None = None,
    anomalous_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[StoredSessionAnomaly]:
    """Sessions by anomaly score (IsolationForest, in [0, 1], above 0.5 unusual), each with the reason."""
    return await list_session_anomalies(connection, agent_id, anomalous_only=anomalous_only, limit=limit, offset=offset)


@router.get(
    "/sessions/{session_id:path}/anomalies",
    operation_id="get_session_anomalies",
    summary="Unusual steps and loops of a session",
    response_model=StoredSessionAnomaly,
    responses={404: {"description": "No such session, or it has not been analysed."}},
)
async def get_one_session_anomalies(session_id: str, connection: ConnectionDep) -> StoredSessionAnomaly:
    """The session's anomaly score, its most unusual steps and the loops found in it."""
    found = await get_session_anomaly(connection, session_id)
    if found is not None:
        return found
    if await get_session(connection, session_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no session with id {session_id!r}")
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"session {session_id!r} has not been analysed yet")


@router.get(
    "/analytics/clusters",
    operation_id="list_behaviour_clusters",
    summary="Behaviour clusters",
    response_model=list[StoredCluster],
)
async def get_clusters(connection: ConnectionDep, agent_id: str | None = None) -> list[StoredCluster]:
    """The clusters of the last analysis of a scope (an agent, or all sessions), each with outcome rate."""
    return await list_clusters(connection, agent_id)
