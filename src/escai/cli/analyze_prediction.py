"""The prediction part of ``escai analyze SESSION_ID``: the registry's latest model applied to the session.

With no trained model the analysis says so and how to train one, instead of failing; ``--json`` then carries
``"prediction": null`` and the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from escai.analysis.predict.predictor import PredictionResult, Predictor
from escai.analysis.predict.registry import ModelRegistry, NoModelError
from escai.model.events import AgentEvent
from escai.settings import Settings

SHOWN_DRIVERS = 5


@dataclass(frozen=True, slots=True)
class SessionPrediction:
    """The session's prediction, or why there is none."""

    result: PredictionResult | None
    missing: str | None = None


def predict_session(settings: Settings, events: Sequence[AgentEvent]) -> SessionPrediction:
    """Predict the session with the latest registered model (drivers included)."""
    if not events:
        return SessionPrediction(None, "the session has no events")
    try:
        models = ModelRegistry.for_settings(settings).load()
    except NoModelError as error:
        return SessionPrediction(None, str(error))
    return SessionPrediction(Predictor(models).predict_detailed(events, drivers=SHOWN_DRIVERS))


def render_prediction(prediction: SessionPrediction, target: Console) -> None:
    """One paragraph: probability, risk and warning, remaining steps, and the strongest drivers."""
    if prediction.result is None:
        target.print(f"[bold]Prediction[/bold]: none ({prediction.missing})")
        return
    result = prediction.result
    forecast = result.prediction
    stage = "full-run model" if result.finished else "early-warning model"
    warning = "  [red]warning: failure likely[/red]" if result.warning else ""
    lines = [
        f"[bold]Prediction[/bold] ({stage} {forecast.model_version}): success {forecast.success_probability:.2f}, "
        f"failure risk {forecast.failure_risk:.2f}, confidence {forecast.confidence:.2f}{warning}"
    ]
    if forecast.remaining_steps is not None and not result.finished:
        interval = result.remaining_steps_interval
        span = f" ({interval[0]:.0f}-{interval[1]:.0f})" if interval else ""
        lines.append(f"remaining steps: {forecast.remaining_steps:.0f}{span}")
    for driver in result.drivers:
        side = "toward success" if driver.contribution > 0 else "toward failure"
        lines.append(f"  {driver.contribution:+.2f} {side}: {driver.description}")
    target.print("\n".join(lines))


def prediction_document(prediction: SessionPrediction) -> dict[str, Any]:
    """``prediction`` (or null) and, without one, ``prediction_missing``: the JSON part of ``--json``."""
    if prediction.result is None:
        return {"prediction": None, "prediction_missing": prediction.missing}
    return {"prediction": prediction.result.as_dict()}
