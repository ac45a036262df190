"""Routes for failure attribution: ``POST /sessions/{id}/attribution`` (compute, store, publish) and
``GET /sessions/{id}/attribution`` (stored results, newest first)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from escai.analysis.session_attribution import attribute_session, attribution_change
from escai.exceptions import NotFoundError
from escai.model.records import FailureAttribution
from escai.server.deps import ConnectionDep, ServiceDep
from escai.store.attribution_store import list_attributions
from escai.store.queries import get_session

router = APIRouter(tags=["attribution"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such session."}}


@router.post(
    "/sessions/{session_id:path}/attribution",
    operation_id="attribute_session_failure",
    summary="Attribute a session's failure to (agent, step) candidates now",
    response_model=FailureAttribution,
    responses=_NOT_FOUND,
)
async def post_attribution(session_id: str, service: ServiceDep) -> FailureAttribution:
    """Rank which agent at which step most likely caused the failure, with evidence; stored and published live."""
    try:
        attribution = await attribute_session(service.engine, session_id)
    except NotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    async with service.engine.connect() as connection:
        session = await get_session(connection, session_id)
    await service.bus.publish([attribution_change(attribution, session.agent_id if session else None)])
    return attribution


@router.get(
    "/sessions/{session_id:path}/attribution",
    operation_id="list_session_attributions",
    summary="Stored failure attributions of a session",
    response_model=list[FailureAttribution],
    responses=_NOT_FOUND,
)
async def get_attributions(
    session_id: str,
    connection: ConnectionDep,
    method: Annotated[str | None, Query(description="Only this method's results.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> list[FailureAttribution]:
    """The session's attributions, newest first."""
    if await get_session(connection, session_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no session with id {session_id!r}")
    return await list_attributions(connection, session_id, method=method, limit=limit)
