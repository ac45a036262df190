"""Routes for epistemic states, belief revisions, knowledge graphs and explanations.

``GET /agents/{id}/epistemic`` (latest state or paged history), ``GET /agents/{id}/explanations``,
``GET /sessions/{id}/epistemic`` (the timeline), ``GET /sessions/{id}/knowledge`` (JSON, GraphML or Cypher) and
``POST /sessions/{id}/analyze`` (run the analysis now, store it, publish it on the bus).

Ids are matched as paths because imported session ids contain slashes (``tau-bench/0-t0/e4743db55c``); the fixed
last segment keeps the routes unambiguous.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from escai.analysis.session_analysis import (
    KnowledgeSummary,
    analyse_session,
    analysis_change,
    explainer_from_settings,
    summarise_knowledge,
)
from escai.analysis.text import load_embedder
from escai.analysis.text.embedding import EmbedderChoice
from escai.exceptions import NotFoundError
from escai.model.records import BeliefRevision, EpistemicState, Explanation, ExplanationKind, FailureAttribution
from escai.server.deps import ConnectionDep, ServiceDep, SettingsDep
from escai.store.epistemic_store import (
    count_agent_states,
    latest_agent_state,
    list_agent_states,
    list_explanations,
    load_timeline,
)
from escai.store.knowledge_store import load_knowledge_graph
from escai.store.queries import get_agent, get_session

router = APIRouter(tags=["epistemic"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such agent or session."}}


class AgentEpistemicResponse(BaseModel):
    """An agent's latest epistemic state and, when asked for, a page of its history (oldest first)."""

    agent_id: str
    latest: EpistemicState
    history: list[EpistemicState] = Field(description="Empty unless ``history=true``.")
    total: int = Field(description="States stored for the agent (in the session, when one was named).")
    limit: int
    offset: int


class SessionEpistemicResponse(BaseModel):
    """A session's epistemic timeline: states in step order, belief revisions and the knowledge graph's size."""

    session_id: str
    analysed: bool = Field(description="False until the session has been analysed (POST .../analyze).")
    method: str = Field(description="Similarity method of the extraction: minilm or light (unknown if not analysed).")
    states: list[EpistemicState]
    revisions: list[BeliefRevision]
    knowledge: KnowledgeSummary
    total_states: int
    limit: int
    offset: int


class ExplanationPageResponse(BaseModel):
    """A page of explanations, newest first; every sentence cites the events it rests on."""

    explanations: list[Explanation]
    limit: int
    offset: int


class AnalysisResponse(BaseModel):
    """What an analysis stored: counts, the final state of each agent, and the explanations."""

    analysis: str = Field(description="Always ``epistemic``.")
    scope: str = Field(description="Always ``session``: the whole session was analysed again.")
    session_id: str
    method: str
    states: int
    revisions: int
    knowledge: KnowledgeSummary
    final_states: dict[str, EpistemicState]
    explanations: list[Explanation]
    attribution: FailureAttribution | None = Field(
        default=None, description="Ranked (agent, step) failure candidates, when the session failed or shows failure."
    )
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="What each installed session plugin returned, by plugin name."
    )
    seconds: float


async def _require_agent(connection: ConnectionDep, agent_id: str) -> None:
    if await get_agent(connection, agent_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no agent with id {agent_id!r}")


async def _require_session(connection: ConnectionDep, session_id: str) -> None:
    if await get_session(connection, session_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no session with id {session_id!r}")


@router.get(
    "/agents/{agent_id:path}/epistemic",
    operation_id="get_agent_epistemic_state",
    summary="An agent's epistemic state",
    response_model=AgentEpistemicResponse,
    responses=_NOT_FOUND,
)
async def get_agent_epistemic(
    agent_id: str,
    connection: ConnectionDep,
    session_id: str | None = None,
    history: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AgentEpistemicResponse:
    """The agent's latest beliefs, knowledge, goals and confidence (in one session with ``session_id``);
    ``history=true`` adds its states oldest first, ``limit`` at a time."""
    await _require_agent(connection, agent_id)
    latest = await latest_agent_state(connection, agent_id, session_id)
    if latest is None:
        where = f" in session {session_id!r}" if session_id is not None else ""
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"agent {agent_id!r} has no epistemic state{where}: analyse a session first "
            "(POST /api/v1/sessions/{session_id}/analyze)",
        )
    states = (
        await list_agent_states(connection, agent_id, session_id=session_id, limit=limit, offset=offset)
        if history
        else []
    )
    total = await count_agent_states(connection, agent_id, session_id=session_id)
    return AgentEpistemicResponse(
        agent_id=agent_id, latest=latest, history=states, total=total, limit=limit, offset=offset
    )


@router.get(
    "/agents/{agent_id:path}/explanations",
    operation_id="list_agent_explanations",
    summary="Explanations about an agent",
    response_model=ExplanationPageResponse,
    responses=_NOT_FOUND,
)
async def get_agent_explanations(
    agent_id: str,
    connection: ConnectionDep,
    session_id: str | None = None,
    kind: ExplanationKind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ExplanationPageResponse:
    """Explanations of the agent and of the sessions it took part in, newest first, by session and kind."""
    await _require_agent(connection, agent_id)
    found = await list_explanations(
        connection, agent_id=agent_id, session_id=session_id, kind=kind, limit=limit, offset=offset
    )
    return ExplanationPageResponse(explanations=found, limit=limit, offset=offset)


@router.get(
    "/sessions/{session_id:path}/epistemic",
    operation_id="get_session_epistemic_timeline",
    summary="A session's epistemic timeline",
    response_model=SessionEpistemicResponse,
    responses=_NOT_FOUND,
)
async def get_session_epistemic(
    session_id: str,
    connection: ConnectionDep,
    agent_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SessionEpistemicResponse:
    """States in step order (``limit`` from ``offset``), every belief revision, and the knowledge graph's size
    and top entities; one agent's only with ``agent_id``."""
    await _require_session(connection, session_id)
    timeline = await load_timeline(connection, session_id, agent_id)
    graph = await load_knowledge_graph(connection, session_id)
    return SessionEpistemicResponse(
        session_id=session_id,
        analysed=bool(timeline.states),
        method=timeline.method,
        states=timeline.states[offset : offset + limit],
        revisions=timeline.revisions,
        knowledge=summarise_knowledge(graph),
        total_states=len(timeline.states),
        limit=limit,
        offset=offset,
    )


_KNOWLEDGE_MEDIA_TYPES = {"graphml": "application/graphml+xml", "cypher": "text/plain; charset=utf-8"}


@router.get(
    "/sessions/{session_id:path}/knowledge",
    operation_id="get_session_knowledge_graph",
    summary="A session's knowledge graph",
    responses={
        **_NOT_FOUND,
        200: {
            "description": "The graph as JSON (nodes and edges), GraphML or Cypher CREATE statements.",
            "content": {"application/json": {}, **{media: {} for media in _KNOWLEDGE_MEDIA_TYPES.values()}},
        },
    },
)
async def get_session_knowledge(
    session_id: str,
    connection: ConnectionDep,
    format_: Annotated[Literal["json", "graphml", "cypher"], Query(alias="format")] = "json",
) -> Any:
    """The entities and relations the session's tool results and observations established."""
    await _require_session(connection, session_id)
    graph = await load_knowledge_graph(connection, session_id)
    if format_ == "graphml":
        return Response(graph.to_graphml(), media_type=_KNOWLEDGE_MEDIA_TYPES["graphml"])
    if format_ == "cypher":
        return Response(graph.to_cypher(), media_type=_KNOWLEDGE_MEDIA_TYPES["cypher"])
    return graph.as_dict()


@router.post(
    "/sessions/{session_id:path}/analyze",
    operation_id="analyze_session",
    summary="Analyse a session now",
    response_model=AnalysisResponse,
    responses=_NOT_FOUND,
)
async def post_session_analysis(
    session_id: str,
    service: ServiceDep,
    settings: SettingsDep,
    method: EmbedderChoice = "auto",
) -> AnalysisResponse:
    """Extract the session's epistemic timeline, explain it, store both (replacing an earlier analysis) and
    publish the result to live subscribers of the session."""
    try:
        embedder = load_embedder(method)
    except ImportError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(error)) from None
    if service.analysis is not None:
        # Write the live worker's pending states first, so the replacement below removes them rather than
        # having them land after it as duplicates.
        await service.analysis.flush()
    try:
        analysis = await analyse_session(
            service.engine, session_id, embedder=embedder, explainer=explainer_from_settings(settings)
        )
    except NotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    change = analysis_change(analysis)
    await service.bus.publish([change])
    return AnalysisResponse.model_validate(change.payload)
