"""Routes for success predictions.

``GET /agents/{agent_id}/predictions`` reads stored predictions (the latest per session, or the history);
``POST /sessions/{session_id}/predict`` predicts a session now with the registry's latest model, stores the
prediction and publishes it as an ``analysis.result`` change, and explains it (the drivers, citing events).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from escai.analysis.predict.registry import ModelRegistry, NoModelError
from escai.analysis.predict.stored import SessionNotFoundError, predict_stored_session
from escai.analysis.session_analysis import explainer_from_settings
from escai.analysis.session_prediction import explain_stored_prediction
from escai.model.records import Explanation, Prediction
from escai.server.deps import ConnectionDep, ServiceDep, SettingsDep
from escai.store.prediction_store import list_predictions
from escai.store.queries import get_agent

router = APIRouter(tags=["predictions"])


class PredictionDriverResponse(BaseModel):
    """A feature that moved the prediction: signed log-odds contribution (positive: toward success)."""

    feature: str
    contribution: float
    description: str
    event_ids: list[str]


class PredictionResponse(BaseModel):
    """A prediction made now, with intervals, the early-warning flag and its drivers."""

    prediction: Prediction
    remaining_steps_interval: tuple[float, float] | None = Field(description="80 % interval of remaining steps.")
    remaining_seconds_interval: tuple[float, float] | None = Field(description="80 % interval of remaining time.")
    warning: bool = Field(description="The failure risk reached the model's warning threshold.")
    finished: bool = Field(description="The session had ended; the full-run model predicted.")
    drivers: list[PredictionDriverResponse]
    explanation: Explanation | None = Field(
        default=None, description="The forecast in words, each sentence citing the events behind its drivers."
    )


@router.get(
    "/agents/{agent_id:path}/predictions",
    operation_id="list_agent_predictions",
    summary="Success predictions of an agent's sessions",
    response_model=list[Prediction],
    responses={404: {"description": "No such agent."}},
)
async def get_agent_predictions(
    agent_id: str,
    connection: ConnectionDep,
    session_id: Annotated[str | None, Query(description="Only this session's predictions.")] = None,
    history: Annotated[bool, Query(description="Every stored prediction, not only the latest per session.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Prediction]:
    """The latest prediction of each of the agent's sessions, or with ``history`` every prediction by step."""
    if await get_agent(connection, agent_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no agent with id {agent_id!r}")
    return await list_predictions(connection, agent_id, session_id=session_id, history=history, limit=limit)


@router.post(
    "/sessions/{session_id:path}/predict",
    operation_id="predict_session",
    summary="Predict a session's success now",
    response_model=PredictionResponse,
    responses={
        404: {"description": "No such session."},
        409: {"description": "No prediction model is trained yet."},
    },
)
async def predict_session(session_id: str, service: ServiceDep, settings: SettingsDep) -> PredictionResponse:
    """Predict from the session's stored events with the latest registered model; store and publish the result."""
    try:
        result = await predict_stored_session(
            service.engine, ModelRegistry.for_settings(settings), session_id, service.bus
        )
    except NoModelError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    except SessionNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    explanation = await explain_stored_prediction(service.engine, session_id, result, explainer_from_settings(settings))
    return PredictionResponse(
        explanation=explanation,
        prediction=result.prediction,
        remaining_steps_interval=result.remaining_steps_interval,
        remaining_seconds_interval=result.remaining_seconds_interval,
        warning=result.warning,
        finished=result.finished,
        drivers=[
            PredictionDriverResponse(
                feature=driver.feature,
                contribution=driver.contribution,
                description=driver.description,
                event_ids=list(driver.event_ids),
            )
            for driver in result.drivers
        ],
    )
