"""Epistemic analysis of a stored session, end to end: read its events, extract the timeline, explain, store.

This is what ``POST /api/v1/sessions/{id}/analyze`` and ``escai analyze`` run. When the session failed (as its
producer reported) or its events show failure signals, the label-free failure attribution runs too and the failure
explanation is worded around its top candidates. The extraction, attribution and explanation are CPU-bound, so
they run in a worker thread and a server's event loop keeps serving while a long session is analysed. Storing
replaces the session's earlier analysis (and its earlier attribution by the same method) in one transaction, so
running it twice gives the same rows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from escai.analysis.causal.attribution import attribute_failure
from escai.analysis.epistemic.extractor import extract_timeline
from escai.analysis.epistemic.graph import KnowledgeGraph
from escai.analysis.epistemic.timeline import EpistemicTimeline
from escai.analysis.explain import ExplanationEngine, SessionEvidence, writer_from_settings
from escai.analysis.explain.facts import read_facts
from escai.analysis.explain.mind import read_mind
from escai.analysis.explain.templates import has_failure_signals, reported_failed
from escai.analysis.text import TextEmbedder
from escai.bus.base import ChangeEvent, ChangeKind
from escai.exceptions import NotFoundError
from escai.model.events import AgentEvent
from escai.model.records import Explanation, FailureAttribution, MonitoringSession
from escai.nodes.plugins import run_session_plugins
from escai.settings import Settings
from escai.store.attribution_store import delete_attributions, save_attribution
from escai.store.epistemic_store import load_timeline, replace_comparison, replace_session_analysis
from escai.store.knowledge_store import load_knowledge_graph
from escai.store.queries import get_session, list_session_events

ANALYSIS_NAME = "epistemic"
"""The ``analysis`` key of the change events this module's results are published with."""
ANALYSIS_SCOPE = "session"
"""The ``scope`` key of those changes: a whole-session analysis (live updates carry one ``state`` each instead)."""
TOP_ENTITIES = 10
ATTRIBUTION_CANDIDATES = 10
"""Candidates kept in a session's failure attribution (the same as ``POST /sessions/{id}/attribution`` keeps)."""


class EntitySummary(BaseModel):
    """One entity of a knowledge graph and how many facts touch it."""

    label: str
    kind: str
    degree: int


class KnowledgeSummary(BaseModel):
    """The size of a session's knowledge graph and its most connected entities."""

    nodes: int = Field(description="Entities.")
    edges: int = Field(description="Facts relating them.")
    top_entities: list[EntitySummary] = Field(description="Most connected first.")


def summarise_knowledge(graph: KnowledgeGraph, top: int = TOP_ENTITIES) -> KnowledgeSummary:
    """The graph's size and its ``top`` most connected entities."""
    return KnowledgeSummary(
        nodes=graph.node_count,
        edges=graph.edge_count,
        top_entities=[
            EntitySummary(label=label, kind=kind, degree=degree) for label, kind, degree in graph.degrees()[:top]
        ],
    )


@dataclass(frozen=True, slots=True)
class SessionAnalysis:
    """What one analysis of a session produced and stored."""

    session: MonitoringSession
    timeline: EpistemicTimeline
    explanations: list[Explanation]
    knowledge: KnowledgeGraph
    seconds: float
    """Wall time of reading, extracting, attributing, explaining and storing."""
    events: Sequence[AgentEvent] = ()
    """The session's events in ingest order, as the analysis read them."""
    attribution: FailureAttribution | None = None
    """The label-free failure attribution, when the session failed or showed failure signals."""
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What each installed session plugin (``escai.plugins`` entry point, hook "session") returned, by plugin name."""

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: counts, final confidence per agent, the explanations and the attribution."""
        final_states = {}
        for agent_id in dict.fromkeys(state.agent_id for state in self.timeline.states):
            final = self.timeline.final_state(agent_id)
            if final is not None:
                final_states[agent_id] = final.model_dump(mode="json")
        return {
            "analysis": ANALYSIS_NAME,
            "scope": ANALYSIS_SCOPE,
            "session_id": self.session.id,
            "method": self.timeline.method,
            "states": len(self.timeline.states),
            "revisions": len(self.timeline.revisions),
            "knowledge": summarise_knowledge(self.knowledge).model_dump(mode="json"),
            "final_states": final_states,
            "explanations": [explanation.model_dump(mode="json") for explanation in self.explanations],
            "attribution": None if self.attribution is None else self.attribution.model_dump(mode="json"),
            "plugins": self.plugins,
            "seconds": round(self.seconds, 3),
        }


def explainer_from_settings(settings: Settings) -> ExplanationEngine:
    """The explanation engine the settings ask for: templates, or LLM wording when an endpoint is configured."""
    writer = writer_from_settings(
        settings.explain_llm_base_url, settings.explain_llm_model, settings.explain_llm_api_key
    )
    return ExplanationEngine(writer)


def analysis_change(analysis: SessionAnalysis) -> ChangeEvent:
    """The bus change that announces a finished analysis to live subscribers of the session and its agent."""
    return ChangeEvent(
        ChangeKind.ANALYSIS_RESULT,
        session_id=analysis.session.id,
        agent_id=analysis.session.agent_id,
        payload=analysis.summary(),
        published_at=time.time(),
    )


async def _read_session(connection: AsyncConnection, session_id: str) -> tuple[MonitoringSession, list[AgentEvent]]:
    session = await get_session(connection, session_id)
    if session is None:
        raise NotFoundError(f"no session with id {session_id!r}")
    return session, await list_session_events(connection, session_id)


def shows_failure(session: MonitoringSession, events: Sequence[AgentEvent], timeline: EpistemicTimeline) -> bool:
    """Whether a session failed as reported by its producer, or its events and timeline show failure signals
    (an unrecovered failure, a contradiction, a lost goal, a confidence collapse): the explanation engine's test."""
    return reported_failed(session) or has_failure_signals(read_facts(session, events), read_mind(timeline))


def _extract_attribute_and_explain(
    session: MonitoringSession,
    events: Sequence[AgentEvent],
    embedder: TextEmbedder | None,
    explainer: ExplanationEngine,
) -> tuple[EpistemicTimeline, FailureAttribution | None, list[Explanation]]:
    timeline = extract_timeline(events, embedder)
    attribution = None
    if events and shows_failure(session, events, timeline):
        # Label-free methods only: attribute_failure strips ground-truth attributes from the events, and the
        # session's annotations are never read.
        attribution = attribute_failure(events, top_k=ATTRIBUTION_CANDIDATES)
    return timeline, attribution, explainer.explain_session(session, events, timeline, attribution)


async def analyse_session(
    engine: AsyncEngine,
    session_id: str,
    *,
    embedder: TextEmbedder | None = None,
    explainer: ExplanationEngine | None = None,
) -> SessionAnalysis:
    """Analyse a stored session and store the result, replacing any earlier analysis of it.

    A failed session (or one whose events show failure signals) is also attributed: the attribution is stored,
    replacing the session's earlier one by the same method, and the failure explanation cites its top candidates.
    Raises :class:`~escai.exceptions.NotFoundError` when no session has ``session_id``.
    """
    started = time.perf_counter()
    async with engine.connect() as connection:
        session, events = await _read_session(connection, session_id)
    explainer = explainer or ExplanationEngine()
    timeline, attribution, explanations = await asyncio.to_thread(
        _extract_attribute_and_explain, session, events, embedder, explainer
    )
    async with engine.begin() as connection:
        await replace_session_analysis(connection, session_id, timeline, explanations)
        if attribution is not None:
            await delete_attributions(connection, session_id, method=attribution.method)
            await save_attribution(connection, attribution)
        knowledge = await load_knowledge_graph(connection, session_id)
    # Installed plugins add their own analyses; a failing plugin reports its error and never stops the rest.
    plugins = await run_session_plugins(session, events)
    elapsed = time.perf_counter() - started
    return SessionAnalysis(session, timeline, explanations, knowledge, elapsed, events, attribution, plugins)


async def _evidence_of(connection: AsyncConnection, session_id: str, embedder: TextEmbedder | None) -> SessionEvidence:
    session, events = await _read_session(connection, session_id)
    timeline = await load_timeline(connection, session_id)
    if not timeline.states:
        # Not analysed yet: extract now rather than compare against an empty timeline.
        timeline = await asyncio.to_thread(extract_timeline, events, embedder)
    return SessionEvidence(session=session, events=events, timeline=timeline)


async def compare_sessions(
    engine: AsyncEngine,
    left_id: str,
    right_id: str,
    *,
    embedder: TextEmbedder | None = None,
    explainer: ExplanationEngine | None = None,
) -> Explanation:
    """Explain how two stored sessions differ, store the comparison and return it.

    Uses each session's stored timeline when it has been analysed, and extracts one otherwise. Raises
    :class:`~escai.exceptions.NotFoundError` when either session does not exist.
    """
    async with engine.connect() as connection:
        left = await _evidence_of(connection, left_id, embedder)
        right = await _evidence_of(connection, right_id, embedder)
    explainer = explainer or ExplanationEngine()
    comparison = await asyncio.to_thread(explainer.compare, left, right)
    async with engine.begin() as connection:
        await replace_comparison(connection, comparison)
    return comparison
