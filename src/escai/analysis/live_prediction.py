"""Live success prediction: every stored event updates its session's prediction with the latest trained model.

Nothing runs until a model exists (``escai model train``); the worker looks for a newer model version every
``reload_interval`` seconds, and sessions started before it keep the model they began with. Each new prediction is
published as an ``analysis.result`` change (``{"analysis": "prediction", ...}``) and stored in batches.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from escai.analysis.live_base import LiveWorker
from escai.analysis.predict.predictor import LivePredictor, Predictor
from escai.analysis.predict.registry import ModelRegistry, NoModelError
from escai.analysis.predict.stored import ANALYSIS_NAME, latest_predictor
from escai.bus.base import ChangeEvent, ChangeKind, EventBus
from escai.model.events import AgentEvent
from escai.model.records import Prediction


class LivePredictionWorker(LiveWorker):
    """Keeps one :class:`LivePredictor` per active session and feeds it the bus's stored events."""

    name = "prediction"

    def __init__(
        self,
        engine: AsyncEngine,
        bus: EventBus,
        registry: ModelRegistry,
        *,
        max_sessions: int = 1000,
        reload_interval: float = 30.0,
        flush_interval: float = 0.25,
        cpu_share: float = 0.25,
    ) -> None:
        super().__init__(engine, bus, flush_interval=flush_interval, cpu_share=cpu_share)
        self._registry = registry
        self._reload_interval = reload_interval
        self._predictor: Predictor | None = None
        self._checked_at = float("-inf")
        self._max_sessions = max_sessions
        self._sessions: OrderedDict[str, LivePredictor] = OrderedDict()
        self._pending: list[Prediction] = []

    async def handle(self, event: AgentEvent) -> None:
        """Update the session's prediction; publish it when the event was a step."""
        live = self._live(event)
        if live is None:
            return
        prediction = live.update(event)
        if prediction is None:
            return
        self._pending.append(prediction)
        payload = {"analysis": ANALYSIS_NAME, "event_id": event.id, **prediction.model_dump(mode="json")}
        await self._bus.publish(
            [ChangeEvent(ChangeKind.ANALYSIS_RESULT, event.session_id, prediction.agent_id, payload, time.time())]
        )

    def take_pending(self) -> list[Prediction] | None:
        """Predictions not written yet."""
        if not self._pending:
            return None
        pending, self._pending = self._pending, []
        return pending

    async def write(self, connection: AsyncConnection, pending: list[Prediction]) -> None:
        """Store the predictions."""
        from escai.store.prediction_store import save_predictions

        await save_predictions(connection, pending)

    def _current_predictor(self) -> Predictor | None:
        now = time.monotonic()
        if now - self._checked_at >= self._reload_interval:
            self._checked_at = now
            try:
                self._predictor = latest_predictor(self._registry)
            except NoModelError:
                self._predictor = None
        return self._predictor

    def _live(self, event: AgentEvent) -> LivePredictor | None:
        live = self._sessions.get(event.session_id)
        if live is not None:
            self._sessions.move_to_end(event.session_id)
            return live
        predictor = self._current_predictor()
        if predictor is None:
            return None
        live = self._sessions[event.session_id] = predictor.live(event.session_id, event.agent_id)
        if len(self._sessions) > self._max_sessions:
            self._sessions.popitem(last=False)
        return live
