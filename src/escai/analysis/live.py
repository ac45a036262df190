"""Live epistemic analysis: every stored event updates its session's tracker; results are stored and published.

Each state is published at once as an ``analysis.result`` change, so WebSocket subscribers of the session see it
live; states, revisions and knowledge facts are written in batches (:class:`~escai.analysis.live_base.LiveWorker`).
Trackers of idle sessions are evicted oldest first beyond ``max_sessions``; a later event of an evicted session starts
a fresh tracker (recompute the whole session with ``POST /api/v1/sessions/{id}/analyze`` or ``escai analyze``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from escai.analysis.epistemic.calibration import ConfidenceCalibrator
from escai.analysis.epistemic.tracker import EpistemicTracker
from escai.analysis.live_base import LiveWorker
from escai.analysis.text.embedding import TextEmbedder
from escai.bus.base import ChangeEvent, ChangeKind, EventBus
from escai.model.events import AgentEvent
from escai.model.records import BeliefRevision, EpistemicState, KnowledgeFact
from escai.store.epistemic_store import save_revisions, save_states
from escai.store.knowledge_store import save_knowledge

ANALYSIS_NAME = "epistemic"


@dataclass(slots=True)
class _Pending:
    states: list[EpistemicState] = field(default_factory=list)
    revisions: list[BeliefRevision] = field(default_factory=list)
    facts: dict[str, list[KnowledgeFact]] = field(default_factory=dict)


class LiveEpistemicWorker(LiveWorker):
    """Keeps one :class:`EpistemicTracker` per active session and feeds it the bus's stored events."""

    name = "epistemic"

    def __init__(
        self,
        engine: AsyncEngine,
        bus: EventBus,
        embedder: TextEmbedder,
        *,
        calibrator: ConfidenceCalibrator | None = None,
        max_sessions: int = 1000,
        flush_interval: float = 0.25,
        cpu_share: float = 0.25,
    ) -> None:
        super().__init__(engine, bus, flush_interval=flush_interval, cpu_share=cpu_share)
        self._embedder = embedder
        self._calibrator = calibrator
        self._max_sessions = max_sessions
        self._trackers: OrderedDict[str, EpistemicTracker] = OrderedDict()
        self._pending = _Pending()

    async def handle(self, event: AgentEvent) -> None:
        """Update the session's tracker; publish the state it produced."""
        update = self._tracker(event.session_id).observe(event)
        if update.state is None:
            return
        self._pending.states.append(update.state)
        self._pending.revisions.extend(update.revisions)
        if update.facts:
            self._pending.facts.setdefault(event.session_id, []).extend(update.facts)
        payload = {
            "analysis": ANALYSIS_NAME,
            "event_id": event.id,
            "state": update.state.model_dump(mode="json"),
            "revisions": [revision.model_dump(mode="json") for revision in update.revisions],
        }
        await self._bus.publish(
            [ChangeEvent(ChangeKind.ANALYSIS_RESULT, event.session_id, update.state.agent_id, payload, time.time())]
        )

    def take_pending(self) -> _Pending | None:
        """States, revisions and facts not written yet."""
        pending = self._pending
        if not (pending.states or pending.revisions or pending.facts):
            return None
        self._pending = _Pending()
        return pending

    async def write(self, connection: AsyncConnection, pending: _Pending) -> None:
        """Store states, revisions and knowledge facts."""
        await save_states(connection, pending.states)
        await save_revisions(connection, pending.revisions)
        for session_id, facts in pending.facts.items():
            await save_knowledge(connection, session_id, facts)

    def _tracker(self, session_id: str) -> EpistemicTracker:
        tracker = self._trackers.get(session_id)
        if tracker is None:
            tracker = EpistemicTracker(session_id, self._embedder, calibrator=self._calibrator)
            self._trackers[session_id] = tracker
            if len(self._trackers) > self._max_sessions:
                self._trackers.popitem(last=False)
        else:
            self._trackers.move_to_end(session_id)
        return tracker
