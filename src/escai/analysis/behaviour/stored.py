"""The behavioural analyser over stored sessions: load, analyse off the event loop, store, publish.

Kept apart from :mod:`escai.analysis.behaviour.analyser` because the storage module imports the analyser's
records; this module is the one place that joins the two.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from escai.analysis.behaviour.analyser import BehaviourAnalyser, BehaviourConfig, BehaviourReport
from escai.bus.base import ChangeEvent, ChangeKind, EventBus
from escai.store.pattern_store import load_labelled_sessions, store_behaviour_report

MIN_SESSIONS = 4
"""Fewer labelled sessions than this give no meaningful patterns, anomalies or clusters."""


class NotEnoughSessionsError(Exception):
    """Too few stored sessions with a known outcome to analyse."""

    def __init__(self, found: int, agent_id: str | None) -> None:
        scope = f"agent {agent_id!r}" if agent_id else "all agents"
        super().__init__(f"{found} stored session(s) with a known outcome for {scope}; at least {MIN_SESSIONS} needed")
        self.found = found


@dataclass(frozen=True, slots=True)
class StoredAnalysis:
    """A finished analysis of stored sessions: its scope, the report, and how many patterns were stored."""

    agent_id: str | None
    report: BehaviourReport
    stored_patterns: int

    def summary(self) -> dict[str, Any]:
        """The JSON-ready summary published on the bus and returned by the API."""
        return {**self.report.summary(self.agent_id), "stored_patterns": self.stored_patterns}


def analysis_scope(report: BehaviourReport, agent_id: str | None) -> str | None:
    """The scope results are stored under: the agent asked for, else the one agent that owns every session."""
    if agent_id is not None:
        return agent_id
    owners = {sequence.agent_id for sequence in report.sequences}
    return owners.pop() if len(owners) == 1 else None


async def analyse_stored_sessions(
    engine: AsyncEngine,
    config: BehaviourConfig | None = None,
    agent_id: str | None = None,
    bus: EventBus | None = None,
) -> StoredAnalysis:
    """Analyse the stored sessions that have an outcome (of one agent, when given), store the results in
    ``behavioral_patterns`` and the behaviour tables, and publish a summary as an ``analysis.result`` change."""
    async with engine.connect() as connection:
        sessions = await load_labelled_sessions(connection, agent_id)
    if len(sessions) < MIN_SESSIONS:
        raise NotEnoughSessionsError(len(sessions), agent_id)
    # Mining and model fitting take seconds of CPU: run them in a worker thread so the server keeps serving.
    report = await asyncio.to_thread(BehaviourAnalyser(config).analyse, sessions)
    scope = analysis_scope(report, agent_id)
    async with engine.begin() as connection:
        stored = await store_behaviour_report(connection, report, scope)
    analysis = StoredAnalysis(scope, report, stored)
    if bus is not None:
        change = ChangeEvent(ChangeKind.ANALYSIS_RESULT, None, scope, analysis.summary(), published_at=time.time())
        await bus.publish([change])
    return analysis
