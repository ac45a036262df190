"""A stored session's prediction, explained: the forecast and the features that drove it, each citing events.

``POST /api/v1/sessions/{id}/predict`` runs this after predicting, so the feature importances of the model reach the
explanation engine (and the ``explanations`` table, kind ``prediction``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from escai.analysis.explain import ExplanationEngine
from escai.analysis.predict.predictor import PredictionResult
from escai.model.records import Explanation
from escai.store.epistemic_store import save_explanations
from escai.store.queries import get_session, list_session_events


async def explain_stored_prediction(
    engine: AsyncEngine, session_id: str, result: PredictionResult, explainer: ExplanationEngine
) -> Explanation | None:
    """Explain ``result`` for the stored session and store the explanation (None when the session is unknown)."""
    async with engine.connect() as connection:
        session = await get_session(connection, session_id)
        if session is None:
            return None
        events = await list_session_events(connection, session_id)
    explanation = explainer.explain_prediction(session, events, result.prediction, result.drivers)
    async with engine.begin() as connection:
        await save_explanations(connection, [explanation])
    return explanation
