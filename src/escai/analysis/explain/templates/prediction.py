"""Sentences that explain a prediction: the forecast at its step, the drivers that moved it most, what remains."""

from __future__ import annotations

from collections.abc import Sequence

from escai.analysis.explain.facts import SessionFacts
from escai.analysis.explain.inputs import PredictionDriver
from escai.analysis.explain.templates.drafting import Drafter, SentenceList
from escai.analysis.explain.text import clip, percent
from escai.model.events import AgentEvent
from escai.model.records import ClaimType, ExplanationSentence, Prediction

SHOWN_DRIVERS = 5


def prediction_events(prediction: Prediction, facts: SessionFacts) -> list[AgentEvent]:
    """The events the forecast was made at: those at its step, else the last event up to it, else the last one."""
    at_step = [event for event in facts.events if event.step_index == prediction.step_index]
    if at_step:
        return at_step
    before = [
        event for event in facts.events if event.step_index is not None and event.step_index <= prediction.step_index
    ]
    if before:
        return before[-1:]
    return list(facts.events[-1:])


def ranked_drivers(drivers: Sequence[PredictionDriver], drafter: Drafter) -> list[PredictionDriver]:
    """The drivers with at least one known event, largest effect first (at most :data:`SHOWN_DRIVERS`)."""
    citable = [driver for driver in drivers if drafter.events_of(driver.event_ids)]
    return sorted(citable, key=lambda driver: -abs(driver.contribution))[:SHOWN_DRIVERS]


def driver_sentence(driver: PredictionDriver, drafter: Drafter) -> ExplanationSentence | None:
    """One driver: what it is, which way it pushed the forecast and by how much."""
    if driver.contribution == 0:
        direction = "did not move the forecast"
    else:
        toward = "success" if driver.contribution > 0 else "failure"
        direction = f"pushed the forecast toward {toward} ({driver.contribution:+.3g})"
    text = f"{clip(driver.description, 120)} ({driver.feature}) {direction}."
    return drafter.sentence(ClaimType.PREDICTION, text[0].upper() + text[1:], drafter.events_of(driver.event_ids))


def _remaining(prediction: Prediction) -> str:
    parts = []
    if prediction.remaining_steps is not None:
        parts.append(f"about {prediction.remaining_steps:.0f} more steps")
    if prediction.remaining_seconds is not None:
        parts.append(f"about {prediction.remaining_seconds:.0f} more seconds")
    return " and ".join(parts)


def prediction_sentences(
    prediction: Prediction, drivers: Sequence[PredictionDriver], facts: SessionFacts, drafter: Drafter
) -> list[ExplanationSentence]:
    """The prediction explanation's sentences: the forecast, its drivers, and the expected remaining work."""
    sentences = SentenceList()
    at = prediction_events(prediction, facts)
    text = (
        f"At step {prediction.step_index}, model {prediction.model_version} put the chance of success at "
        f"{percent(prediction.success_probability)} (failure risk {percent(prediction.failure_risk)}), "
        f"with confidence {prediction.confidence:.2f}."
    )
    sentences.add(drafter.sentence(ClaimType.PREDICTION, text, at))
    for driver in ranked_drivers(drivers, drafter):
        sentences.add(driver_sentence(driver, drafter))
    if remaining := _remaining(prediction):
        sentences.add(drafter.sentence(ClaimType.PREDICTION, f"It expects {remaining} before the end.", at))
    return sentences
