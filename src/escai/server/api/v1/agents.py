"""``/api/v1/agents``: the agents ESCAI has seen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from escai.server.deps import ConnectionDep
from escai.server.schemas import SessionPageResponse
from escai.store.queries import AgentSummary, SessionFilter, get_agent, list_agents, list_sessions

router = APIRouter(prefix="/agents", tags=["agents"])


@router.get("", operation_id="list_agents", summary="List agents", response_model=list[AgentSummary])
async def get_agents(
    connection: ConnectionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AgentSummary]:
    """Agents, most recently active first, with session and event counts."""
    return await list_agents(connection, limit, offset)


@router.get(
    "/{agent_id:path}/sessions",
    operation_id="list_agent_sessions",
    summary="Sessions of an agent",
    response_model=SessionPageResponse,
)
async def get_agent_sessions(
    agent_id: str,
    connection: ConnectionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SessionPageResponse:
    """Sessions the agent started or spoke in, newest first."""
    page = await list_sessions(connection, SessionFilter(agent_id=agent_id), limit, offset)
    return SessionPageResponse(sessions=page.sessions, total=page.total, limit=limit, offset=offset)


@router.get(
    "/{agent_id:path}",
    operation_id="get_agent",
    summary="One agent",
    response_model=AgentSummary,
    responses={404: {"description": "No such agent."}},
)
async def get_one_agent(agent_id: str, connection: ConnectionDep) -> AgentSummary:
    """An agent with its counts."""
    agent = await get_agent(connection, agent_id)
    if agent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no agent with id {agent_id!r}")
    return agent
