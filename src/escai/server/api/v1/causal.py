"""Routes for causal relationships and event dependency graphs.

``GET /analytics/causal`` (stored relationships, filtered; JSON, GraphML or Cypher), ``POST /analytics/causal/run``
(discover now over the stored sessions, store, publish on the bus) and ``GET /sessions/{id}/dependencies`` (one
session's event dependency graph; JSON, GraphML or Cypher).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from escai.analysis.causal.dependency import build_dependency_graph
from escai.analysis.causal.discovery import PcSettings
from escai.analysis.causal.export import graph_to_json, relationships_to_graph, to_cypher, to_graphml
from escai.analysis.causal.granger import GrangerSettings
from escai.analysis.causal.runner import (
    CausalRunSettings,
    DiscoveryMethod,
    causal_change,
    run_causal_discovery,
)
from escai.model.records import CausalRelationship
from escai.server.deps import ConnectionDep, ServiceDep
from escai.store.causal_store import RelationshipFilter, list_relationships
from escai.store.queries import MAX_PAGE_SIZE, get_session, list_session_events

router = APIRouter(tags=["causal"])

GraphFormat = Literal["json", "graphml", "cypher"]
_MEDIA_TYPES = {"graphml": "application/graphml+xml", "cypher": "text/plain; charset=utf-8"}
_GRAPH_CONTENT: dict[str, Any] = {"application/json": {}, **{media: {} for media in _MEDIA_TYPES.values()}}


class CausalRelationshipsResponse(BaseModel):
    """Stored causal relationships, most confident first."""

    relationships: list[CausalRelationship]
    count: int


class CausalRunRequest(BaseModel):
    """What to run: the methods, their settings and which sessions."""

    methods: list[DiscoveryMethod] = Field(default=["pc", "granger"], min_length=1)
    framework: str | None = Field(default=None, description="Only sessions of this framework.")
    max_sessions: int = Field(default=5000, ge=4, le=100_000, description="The newest sessions up to this many.")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="PC's significance level and Granger's FDR.")
    test: Literal["fisherz", "chisq"] = Field(default="fisherz", description="PC's conditional independence test.")
    resamples: int = Field(default=100, ge=0, le=1000, description="Bootstrap resamples for PC's confidence.")
    max_lag: int = Field(default=3, ge=1, le=10, description="Largest Granger lag (in agent actions).")
    seed: int = 0


class CausalRunResponse(BaseModel):
    """What a discovery run found and stored."""

    analysis: str
    sessions: int
    stored: int
    seconds: float
    pc: dict[str, Any] | None = Field(description="Columns searched and dropped, bootstrap resamples used.")
    granger: dict[str, Any] | None = Field(description="Series tested and skipped, sessions long enough, tests run.")
    relationships: list[CausalRelationship]


def _graph_response(graph: Any, format_: GraphFormat, *, node_label: str, type_attribute: str | None) -> Any:
    if format_ == "graphml":
        return Response(to_graphml(graph), media_type=_MEDIA_TYPES["graphml"])
    if format_ == "cypher":
        text = to_cypher(graph, node_label=node_label, type_attribute=type_attribute)
        return Response(text, media_type=_MEDIA_TYPES["cypher"])
    return graph_to_json(graph)


@router.get(
    "/analytics/causal",
    operation_id="list_causal_relationships",
    summary="Causal relationships",
    response_model=CausalRelationshipsResponse,
    responses={200: {"description": "JSON, or the graph as GraphML or Cypher statements.", "content": _GRAPH_CONTENT}},
)
async def get_causal_relationships(
    connection: ConnectionDep,
    method: Annotated[str | None, Query(description="pc, pc-undirected or granger")] = None,
    session_id: str | None = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    format_: Annotated[GraphFormat, Query(alias="format")] = "json",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
) -> Any:
    """Stored relationships, filtered by method, session and least confidence, as JSON or as a graph."""
    found = await list_relationships(
        connection, RelationshipFilter(method=method, session_id=session_id, min_confidence=min_confidence), limit
    )
    if format_ == "json":
        return CausalRelationshipsResponse(relationships=found, count=len(found))
    return _graph_response(relationships_to_graph(found), format_, node_label="Variable", type_attribute=None)


@router.post(
    "/analytics/causal/run",
    operation_id="run_causal_discovery",
    summary="Discover causal relationships now",
    response_model=CausalRunResponse,
)
async def post_causal_run(service: ServiceDep, request: CausalRunRequest | None = None) -> CausalRunResponse:
    """Run PC and/or Granger over the stored sessions, store the relationships (replacing the same methods'
    earlier cross-session results) and publish the result on the bus."""
    request = request or CausalRunRequest()
    settings = CausalRunSettings(
        methods=tuple(dict.fromkeys(request.methods)),
        framework=request.framework,
        max_sessions=request.max_sessions,
        pc=PcSettings(alpha=request.alpha, test=request.test, resamples=request.resamples, seed=request.seed),
        granger=GrangerSettings(max_lag=request.max_lag, alpha=request.alpha),
    )
    run = await run_causal_discovery(service.engine, settings)
    change = causal_change(run)
    await service.bus.publish([change])
    return CausalRunResponse.model_validate(change.payload)


@router.get(
    "/sessions/{session_id}/dependencies",
    operation_id="get_session_dependencies",
    summary="A session's event dependency graph",
    responses={
        404: {"description": "No such session."},
        200: {"description": "The graph as JSON (nodes and edges), GraphML or Cypher.", "content": _GRAPH_CONTENT},
    },
)
async def get_session_dependencies(
    session_id: str,
    connection: ConnectionDep,
    format_: Annotated[GraphFormat, Query(alias="format")] = "json",
) -> Any:
    """Which event depended on which (parent links, tool results used later, replies, handoffs), forward in time."""
    if await get_session(connection, session_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no session with id {session_id!r}")
    events = await list_session_events(connection, session_id)
    graph = await asyncio.to_thread(build_dependency_graph, events)
    return _graph_response(graph, format_, node_label="Event", type_attribute="kind")
