"""Prediction over stored data: predict a stored session now (store and publish the result), and read the
labelled sessions to train from.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from threading import Lock

from sqlalchemy.ext.asyncio import AsyncEngine

from escai.analysis.predict.dataset import OutcomeRun, outcome_run
from escai.analysis.predict.predictor import PredictionResult, Predictor
from escai.analysis.predict.registry import ModelRegistry
from escai.bus import ChangeEvent, ChangeKind, EventBus
from escai.store.pattern_store import load_labelled_sessions
from escai.store.prediction_store import save_predictions, session_events

ANALYSIS_NAME = "prediction"
_CACHE: dict[tuple[Path, str], Predictor] = {}
_CACHE_LOCK = Lock()


class SessionNotFoundError(LookupError):
    """The session has no stored events."""


def latest_predictor(registry: ModelRegistry) -> Predictor:
    """A predictor for the registry's latest model (loaded once per version); ``NoModelError`` when none exists."""
    latest = registry.latest()
    if latest is None:
        registry.load()  # raises NoModelError with the hint to train one
    assert latest is not None  # for the type checker: load() raised otherwise
    key = (registry.root, latest.version)
    with _CACHE_LOCK:
        predictor = _CACHE.get(key)
        if predictor is None:
            predictor = Predictor(registry.load(latest.version))
            _CACHE[key] = predictor
        return predictor


async def predict_stored_session(
    engine: AsyncEngine, registry: ModelRegistry, session_id: str, bus: EventBus | None = None
) -> PredictionResult:
    """Predict a stored session from all its events with the latest model, store the prediction and publish it."""
    predictor = latest_predictor(registry)
    async with engine.connect() as connection:
        events = await session_events(connection, session_id)
    if not events:
        raise SessionNotFoundError(f"no session with id {session_id!r}")
    result = predictor.predict_detailed(events)
    async with engine.begin() as connection:
        await save_predictions(connection, [result.prediction])
    if bus is not None:
        payload = {"analysis": ANALYSIS_NAME, **result.as_dict()}
        change = ChangeEvent(
            ChangeKind.ANALYSIS_RESULT, session_id, result.prediction.agent_id, payload, published_at=time.time()
        )
        await bus.publish([change])
    return result


async def load_outcome_runs(engine: AsyncEngine, agent_id: str | None = None) -> Sequence[OutcomeRun]:
    """Stored sessions (of one agent, when given) that have a recorded outcome, as training runs."""
    async with engine.connect() as connection:
        sessions = await load_labelled_sessions(connection, agent_id)
    return [
        outcome_run(session.session_id, session.events, bool(session.success))
        for session in sessions
        if session.success is not None and session.events
    ]
