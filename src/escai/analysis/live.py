"""Live epistemic analysis: every stored event updates its session's tracker; results are stored and published.

The worker subscribes to the bus for stored events, so it never slows ingest: a slow analysis only fills its own
subscription buffer (and, if that overflows, skips events, which the bus counts). States, revisions and knowledge
facts are written in batches every ``flush_interval`` seconds; each state is published at once as an
``analysis.result`` change, so WebSocket subscribers of the session see it live. Trackers of idle sessions are
evicted oldest first beyond ``max_sessions``; a later event of an evicted session starts a fresh tracker (recompute
the whole session with ``POST /api/v1/sessions/{id}/analyze`` or ``escai analyze``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from escai.analysis.epistemic.calibration import ConfidenceCalibrator
from escai.analysis.epistemic.tracker import EpistemicTracker
from escai.analysis.text.embedding import TextEmbedder
from escai.bus.base import ChangeEvent, ChangeKind, EventBus, Subscription
from escai.model.events import AgentEvent
from escai.model.records import BeliefRevision, EpistemicState, KnowledgeFact
from escai.ops.logging import get_logger
from escai.store.epistemic_store import save_revisions, save_states
from escai.store.knowledge_store import save_knowledge

ANALYSIS_NAME = "epistemic"
LATENCY_WINDOW = 10_000
PACING_WINDOW_S = 1.0
FLUSH_ATTEMPTS = 5

_log = get_logger(__name__, component="analysis.live")


class LiveEpistemicWorker:
    """Keeps one :class:`EpistemicTracker` per active session and feeds it the bus's stored events."""

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
        self._engine = engine
        self._bus = bus
        self._embedder = embedder
        self._calibrator = calibrator
        self._max_sessions = max_sessions
        self._flush_interval = flush_interval
        self._cpu_share = cpu_share
        self._window_started = time.perf_counter()
        self._window_busy = 0.0
        self._trackers: OrderedDict[str, EpistemicTracker] = OrderedDict()
        self._states: list[EpistemicState] = []
        self._revisions: list[BeliefRevision] = []
        self._facts: dict[str, list[KnowledgeFact]] = {}
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.update_seconds: deque[float] = deque(maxlen=LATENCY_WINDOW)
        """Time to take in each event (tracker update and publication), newest last: the live-path latency."""
        self.processed = 0

    async def start(self) -> None:
        """Subscribe to stored events and start the analysis and flush loops."""
        self._subscription = self._bus.subscribe(lambda change: change.kind is ChangeKind.EVENT_STORED)
        self._tasks = [asyncio.create_task(self._consume()), asyncio.create_task(self._flush_periodically())]

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Analyse what is already queued (up to ``drain_timeout`` seconds), stop, and write what is pending."""
        if self._subscription is not None:
            deadline = time.monotonic() + drain_timeout
            # Polling: the queue offers no "empty" notification, and this runs once, at shutdown.
            while self._subscription.pending and time.monotonic() < deadline and self._tasks:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await self._subscription.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.flush()

    async def observe(self, event: AgentEvent) -> EpistemicState | None:
        """Take in one stored event; publish the state it produced. Returns that state (None when unchanged)."""
        started = time.perf_counter()
        tracker = self._tracker(event.session_id)
        update = tracker.observe(event)
        self.processed += 1
        if update.state is not None:
            self._states.append(update.state)
            self._revisions.extend(update.revisions)
            if update.facts:
                self._facts.setdefault(event.session_id, []).extend(update.facts)
            payload = {
                "analysis": ANALYSIS_NAME,
                "event_id": event.id,
                "state": update.state.model_dump(mode="json"),
                "revisions": [revision.model_dump(mode="json") for revision in update.revisions],
            }
            await self._bus.publish(
                [ChangeEvent(ChangeKind.ANALYSIS_RESULT, event.session_id, update.state.agent_id, payload, time.time())]
            )
        self.update_seconds.append(time.perf_counter() - started)
        return update.state

    async def flush(self) -> None:
        """Write pending states, revisions and knowledge in one transaction."""
        if not (self._states or self._revisions or self._facts):
            return
        states, revisions, facts = self._states, self._revisions, self._facts
        self._states, self._revisions, self._facts = [], [], {}
        started = time.perf_counter()
        for attempt in range(1, FLUSH_ATTEMPTS + 1):
            try:
                async with self._engine.begin() as connection:
                    await save_states(connection, states)
                    await save_revisions(connection, revisions)
                    for session_id, session_facts in facts.items():
                        await save_knowledge(connection, session_id, session_facts)
                break
            except OperationalError:
                # SQLite refuses a read transaction's upgrade to a writer while ingest writes ("database is locked"):
                # the whole transaction rolled back, so trying again is safe.
                if attempt == FLUSH_ATTEMPTS:
                    _log.exception("analysis.flush_failed", states=len(states), attempts=attempt)
                else:
                    await asyncio.sleep(0.05 * 2**attempt)
            except Exception:
                # Analysis results can be recomputed from the stored events; losing a batch must not stop the worker.
                _log.exception("analysis.flush_failed", states=len(states), revisions=len(revisions))
                break
        # Writing competes with ingest for the database and the loop: it counts against the analysis CPU share.
        self._window_busy += time.perf_counter() - started

    async def _consume(self) -> None:
        assert self._subscription is not None
        async for change in self._subscription:
            if isinstance(change.payload, AgentEvent):
                started = time.perf_counter()
                try:
                    await self.observe(change.payload)
                except Exception:
                    _log.exception("analysis.event_failed", event_id=change.payload.id)
                self._window_busy += time.perf_counter() - started
            await self._pace()

    async def _pace(self) -> None:
        """Keep analysis within its share of the CPU so ingest, which shares the loop and the cores, keeps pace.

        Under a flood the worker falls behind: its subscription buffer fills and the bus skips events for it (counted
        in ``dropped``), never for ingest; ``POST /api/v1/sessions/{id}/analyze`` recomputes a session in full.
        """
        elapsed = time.perf_counter() - self._window_started
        allowed = self._cpu_share * elapsed
        if self._window_busy > allowed:
            await asyncio.sleep((self._window_busy - allowed) / self._cpu_share)
        else:
            # Yield after every event so a burst of analysis never holds the loop that ingest runs on.
            await asyncio.sleep(0)
        if elapsed > PACING_WINDOW_S:
            self._window_started, self._window_busy = time.perf_counter(), 0.0

    @property
    def dropped(self) -> int:
        """Stored events the worker never saw because it was behind (its subscription buffer was full)."""
        return self._subscription.dropped if self._subscription is not None else 0

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            await self.flush()

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
