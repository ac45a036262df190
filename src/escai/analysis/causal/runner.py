"""Causal discovery over stored sessions, end to end: read them, run PC and Granger, store, announce.

This is what ``POST /api/v1/analytics/causal/run`` runs. The searches are CPU-bound and run in a worker thread so
a server keeps serving meanwhile. Results replace the earlier cross-session results of the same methods in one
transaction. Stored epistemic confidence, where a session has been analysed, joins the Granger series as
``confidence``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from escai.analysis.causal.discovery import (
    PC_METHOD,
    PC_UNDIRECTED_METHOD,
    PcResult,
    PcSettings,
    discover_from_sessions,
)
from escai.analysis.causal.granger import GRANGER_METHOD, GrangerResult, GrangerSettings, granger_from_sessions
from escai.bus.base import ChangeEvent, ChangeKind
from escai.model.events import AgentEvent
from escai.model.records import CausalRelationship, MonitoringSession
from escai.store.causal_store import load_step_confidence, save_relationships
from escai.store.queries import MAX_PAGE_SIZE, SessionFilter, list_session_events, list_sessions

ANALYSIS_NAME = "causal"
"""The ``analysis`` key of the change events this module publishes."""
CONFIDENCE_SERIES = "confidence"
"""Name of the Granger series read from stored epistemic states."""

DiscoveryMethod = Literal["pc", "granger"]


@dataclass(frozen=True, slots=True)
class CausalRunSettings:
    """Which methods to run, on which sessions, with which settings."""

    methods: tuple[DiscoveryMethod, ...] = ("pc", "granger")
    framework: str | None = None
    """Only sessions of this framework (features mean different things in different frameworks)."""
    max_sessions: int = 5000
    """The newest sessions up to this many."""
    pc: PcSettings = field(default_factory=PcSettings)
    granger: GrangerSettings = field(default_factory=GrangerSettings)


@dataclass(frozen=True, slots=True)
class CausalRun:
    """What one run found and stored."""

    sessions: int
    relationships: list[CausalRelationship]
    pc: PcResult | None
    granger: GrangerResult | None
    stored: int
    seconds: float

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: counts, what each method used, and the relationships found."""
        return {
            "analysis": ANALYSIS_NAME,
            "sessions": self.sessions,
            "stored": self.stored,
            "seconds": round(self.seconds, 3),
            "pc": None
            if self.pc is None
            else {
                "columns": list(self.pc.columns),
                "dropped_columns": list(self.pc.dropped_columns),
                "resamples": self.pc.resamples,
                "failed_resamples": self.pc.failed_resamples,
            },
            "granger": None
            if self.granger is None
            else {
                "series": list(self.granger.series),
                "skipped_series": list(self.granger.skipped_series),
                "sessions": self.granger.sessions,
                "tests": len(self.granger.tests),
            },
            "relationships": [found.model_dump(mode="json") for found in self.relationships],
        }


def causal_change(run: CausalRun) -> ChangeEvent:
    """The bus change announcing a finished cross-session discovery (no session or agent: it spans them)."""
    return ChangeEvent(ChangeKind.ANALYSIS_RESULT, None, None, run.summary(), published_at=time.time())


async def _stored_sessions(connection: AsyncConnection, framework: str | None, limit: int) -> list[MonitoringSession]:
    found: list[MonitoringSession] = []
    while len(found) < limit:
        page = await list_sessions(
            connection, SessionFilter(framework=framework), min(MAX_PAGE_SIZE, limit - len(found)), len(found)
        )
        found.extend(page.sessions)
        if not page.sessions or len(found) >= page.total:
            break
    return found


def discover(
    sessions: Mapping[str, Sequence[AgentEvent]],
    outcomes: Mapping[str, bool | None],
    settings: CausalRunSettings,
    step_confidence: Mapping[str, Mapping[int, float]] | None = None,
) -> tuple[PcResult | None, GrangerResult | None]:
    """Run the chosen methods on sessions in memory (no database): what the bench script and the API share."""
    pc_result = discover_from_sessions(sessions, outcomes, settings.pc) if "pc" in settings.methods else None
    granger_result = None
    if "granger" in settings.methods:
        extra = {session_id: {CONFIDENCE_SERIES: steps} for session_id, steps in (step_confidence or {}).items()}
        granger_result = granger_from_sessions(sessions, extra, settings.granger)
    return pc_result, granger_result


def _replaced_methods(methods: Collection[DiscoveryMethod]) -> list[str]:
    replaced: list[str] = []
    if "pc" in methods:
        replaced += [PC_METHOD, PC_UNDIRECTED_METHOD]
    if "granger" in methods:
        replaced.append(GRANGER_METHOD)
    return replaced


async def run_causal_discovery(engine: AsyncEngine, settings: CausalRunSettings | None = None) -> CausalRun:
    """Discover relationships across the stored sessions, store them (replacing the methods' earlier results)."""
    settings = settings or CausalRunSettings()
    started = time.perf_counter()
    async with engine.connect() as connection:
        stored = await _stored_sessions(connection, settings.framework, settings.max_sessions)
        sessions = {session.id: await list_session_events(connection, session.id) for session in stored}
        confidence = await load_step_confidence(connection, list(sessions))
    outcomes = {session.id: session.outcome_success for session in stored}
    pc_result, granger_result = await asyncio.to_thread(discover, sessions, outcomes, settings, confidence)
    relationships = [
        *(pc_result.relationships if pc_result else []),
        *(granger_result.relationships if granger_result else []),
    ]
    async with engine.begin() as connection:
        count = await save_relationships(connection, relationships, replace_methods=_replaced_methods(settings.methods))
    return CausalRun(len(sessions), relationships, pc_result, granger_result, count, time.perf_counter() - started)
