"""Predictions from trained models: :class:`Predictor` for a list of events, :class:`LivePredictor` per event.

While a session runs, the early-warning model predicts from the steps seen so far; once its session_end event has
arrived, the full-run model predicts (never reading the end event itself) and nothing remains. ``step_index`` of a
prediction is the 0-based position of the latest step seen. ``confidence`` is the calibrated probability that the
predicted side (success when the probability is at least 0.5, else failure) is right: ``max(p, 1 - p)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from escai.analysis.behaviour.sequences import tool_action
from escai.analysis.explain.inputs import PredictionDriver
from escai.analysis.predict.feature_words import WORD_PREFIX, voice_of, words_in_bucket
from escai.analysis.predict.features import FeatureSnapshot, SessionFeatures
from escai.analysis.predict.training import PredictorModels
from escai.model.events import AgentEvent, EventType
from escai.model.records import Prediction

DEFAULT_DRIVERS = 5


@dataclass(frozen=True, slots=True)
class PredictionResult:
    """A prediction with its intervals, early-warning flag and drivers."""

    prediction: Prediction
    remaining_steps_interval: tuple[float, float] | None
    remaining_seconds_interval: tuple[float, float] | None
    warning: bool
    """The failure risk reached the model's warning threshold."""
    finished: bool
    """The session had ended (the full-run model predicted)."""
    drivers: tuple[PredictionDriver, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            **self.prediction.model_dump(),
            "remaining_steps_interval": self.remaining_steps_interval,
            "remaining_seconds_interval": self.remaining_seconds_interval,
            "warning": self.warning,
            "finished": self.finished,
            "drivers": [
                {
                    "feature": driver.feature,
                    "contribution": driver.contribution,
                    "description": driver.description,
                    "event_ids": list(driver.event_ids),
                }
                for driver in self.drivers
            ],
        }


class Predictor:
    """Success probability, failure risk and what remains, from trained :class:`PredictorModels`."""

    def __init__(self, models: PredictorModels) -> None:
        self.models = models
        self.extractor = models.extractor()

    @property
    def version(self) -> str:
        """The model version that makes the predictions."""
        return self.models.version

    def live(self, session_id: str, agent_id: str) -> LivePredictor:
        """An incremental predictor for one session."""
        return LivePredictor(self, session_id, agent_id)

    def predict(self, events: Sequence[AgentEvent]) -> Prediction:
        """The prediction after all of ``events`` (a running or a finished session)."""
        return self.predict_detailed(events, drivers=0).prediction

    def predict_detailed(self, events: Sequence[AgentEvent], drivers: int = DEFAULT_DRIVERS) -> PredictionResult:
        """The prediction after all of ``events`` with intervals, warning flag and the top ``drivers`` drivers."""
        if not events:
            raise ValueError("cannot predict from no events")
        running = self.live(events[0].session_id, _main_agent(events))
        for event in events:
            running.feed(event)
        return running.result(drivers=drivers, events=events)

    def predict_steps(self, events: Sequence[AgentEvent]) -> list[Prediction]:
        """One prediction after every step of the session (and one at its end, if it ended)."""
        if not events:
            return []
        running = self.live(events[0].session_id, _main_agent(events))
        predictions = []
        for event in events:
            update = running.update(event)
            if update is not None:
                predictions.append(update)
        return predictions

    def drivers_of(
        self, snapshot: FeatureSnapshot, finished: bool, limit: int, events: Sequence[AgentEvent] = ()
    ) -> tuple[PredictionDriver, ...]:
        """The features that moved this prediction most, signed (positive: toward success), with their events."""
        classifier = self.models.full if finished else self.models.early.classifier
        contributions = classifier.contributions(snapshot.vector.reshape(1, -1))[0]
        order = np.argsort(-np.abs(contributions))[:limit]
        by_id = {event.id: event for event in events}
        drivers = []
        for index in order:
            if contributions[index] == 0:
                continue
            name = self.extractor.names[index]
            ids = tuple(snapshot.evidence.get(name, ()))
            value = float(snapshot.vector[index])
            description = f"{self.extractor.descriptions[name]}: {value:.3g}"
            actions = sorted({tool_action(by_id[item]) for item in ids if item in by_id and _is_call(by_id[item])})
            if name.startswith("action_") and actions:
                description += f" ({', '.join(actions[:3])})"
            if name.startswith(WORD_PREFIX):
                description = _word_description(name, value, [by_id[item] for item in ids if item in by_id], events)
            drivers.append(PredictionDriver(name, float(contributions[index]), description, ids))
        return tuple(drivers)


def _word_description(name: str, value: float, cited: Sequence[AgentEvent], events: Sequence[AgentEvent]) -> str:
    """A word bucket in the words that fell into it in this session ("agent said 'sorry'", ...)."""
    main = _main_agent(events) if events else None
    texts = [voiced for event in cited if (voiced := voice_of(event, main)) is not None]
    tokens = words_in_bucket(texts, int(name.removeprefix(WORD_PREFIX)))
    if not tokens:
        return f"words of hash bucket {name.removeprefix(WORD_PREFIX)}: {value:.3g} uses"
    voices = {"a": "the agent wrote", "c": "tool calls used"}
    quoted = ", ".join(f"{voices.get(token[0], 'text had')} '{token[2:]}'" for token in tokens)
    return f"{quoted} ({value:.3g} uses in its hash bucket)"


def _is_call(event: AgentEvent) -> bool:
    return event.type is EventType.TOOL_CALL


def _main_agent(events: Iterable[AgentEvent]) -> str:
    for event in events:
        return event.agent_id
    return "unknown"


class LivePredictor:
    """Keeps one session's features up to date and predicts after each event, in constant time per event."""

    def __init__(self, predictor: Predictor, session_id: str, agent_id: str) -> None:
        self.predictor = predictor
        self.session_id = session_id
        self.agent_id = agent_id
        self.features: SessionFeatures = predictor.extractor.start()
        self.finished = False
        self.last: Prediction | None = None

    def feed(self, event: AgentEvent) -> bool:
        """Take one event into account without predicting; True when it was a step or the session's end."""
        if event.type is EventType.SESSION_END:
            self.finished = True
            return True
        before = self.features.steps
        self.features.update(event)
        return self.features.steps > before

    def update(self, event: AgentEvent) -> Prediction | None:
        """Take one event into account and return the new prediction (None when the event was not a step)."""
        if not self.feed(event) or self.features.steps == 0:
            return None
        self.last = self.result(drivers=0).prediction
        return self.last

    def result(self, drivers: int = 0, events: Sequence[AgentEvent] = ()) -> PredictionResult:
        """The prediction for the events fed so far."""
        models = self.predictor.models
        snapshot = self.features.snapshot() if drivers else None
        row = (snapshot.vector if snapshot is not None else self.features.vector()).reshape(1, -1)
        steps_interval = seconds_interval = None
        remaining_steps = remaining_seconds = None
        if self.finished:
            probability = float(models.full.predict_proba(row)[0])
            remaining_steps, remaining_seconds = 0.0, 0.0
        else:
            early = models.early
            probability = float(early.classifier.predict_proba(row)[0])
            if early.remaining_steps is not None:
                centre, low, high = (float(value[0]) for value in early.remaining_steps.predict(row))
                remaining_steps, steps_interval = centre, (low, high)
            if early.remaining_seconds is not None:
                centre, low, high = (float(value[0]) for value in early.remaining_seconds.predict(row))
                remaining_seconds, seconds_interval = centre, (low, high)
        probability = min(1.0, max(0.0, probability))
        prediction = Prediction(
            session_id=self.session_id,
            agent_id=self.agent_id,
            step_index=max(0, self.features.steps - 1),
            success_probability=probability,
            failure_risk=1.0 - probability,
            remaining_steps=remaining_steps,
            remaining_seconds=remaining_seconds,
            confidence=max(probability, 1.0 - probability),
            model_version=models.version,
        )
        found = () if snapshot is None else self.predictor.drivers_of(snapshot, self.finished, drivers, events)
        return PredictionResult(
            prediction,
            steps_interval,
            seconds_interval,
            warning=(1.0 - probability) >= models.early.warn_threshold,
            finished=self.finished,
            drivers=found,
        )
