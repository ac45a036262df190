"""The explanation engine: evidence-grounded explanations of behaviour, failures, predictions and comparisons.

Every explanation is built from template sentences whose citations are filtered, as they are drafted, to events
that support the sentence's claim (:mod:`escai.analysis.explain.claims`); a :class:`SentenceWriter` may then reword
them (an OpenAI-compatible LLM when configured) without touching claims or citations. The engine reads events and
the epistemic timeline only: a session's ground-truth annotations are never used, and the outcome is taken from
``session.outcome_success`` / ``session.status``, i.e. from what the producer reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from escai.analysis.epistemic.timeline import EpistemicTimeline
from escai.analysis.explain.claims import EvidenceIndex
from escai.analysis.explain.confidence import bounded, evidence_amount, evidence_confidence
from escai.analysis.explain.facts import SessionFacts, order_events, read_facts
from escai.analysis.explain.inputs import PredictionDriver, SessionEvidence
from escai.analysis.explain.mind import MindFacts, read_mind
from escai.analysis.explain.templates import (
    Drafter,
    Side,
    behaviour_sentences,
    comparison_sentences,
    failure_sentences,
    has_failure_signals,
    prediction_sentences,
    ranked_drivers,
    reported_failed,
)
from escai.analysis.explain.writer import SentenceWriter, TemplateWriter
from escai.model.events import AgentEvent
from escai.model.records import (
    Explanation,
    ExplanationKind,
    ExplanationSentence,
    FailureAttribution,
    MonitoringSession,
    Prediction,
)

HEURISTIC_FAILURE_WEIGHT = 0.8
"""Confidence factor of a failure explained from signals in the events alone (no attribution method)."""
NO_TIMELINE_WEIGHT = 0.8
"""Confidence factor of a comparison where a side has no epistemic timeline (fewer kinds of evidence)."""

__all__ = ["ExplanationEngine", "PredictionDriver", "SessionEvidence"]


class _Subject:
    """One session's facts, timeline facts and evidence index, read once per engine call."""

    def __init__(
        self, session: MonitoringSession, events: Iterable[AgentEvent], timeline: EpistemicTimeline | None
    ) -> None:
        self.session = session
        self.events = order_events(session.id, events)
        self.facts: SessionFacts = read_facts(session, self.events)
        self.mind: MindFacts = read_mind(timeline)
        self.has_timeline = timeline is not None
        self.drafter = Drafter(EvidenceIndex(self.events))


class ExplanationEngine:
    """Explains sessions from their events and epistemic timelines; ``writer`` words the sentences (templates)."""

    def __init__(self, writer: SentenceWriter | None = None) -> None:
        self.writer: SentenceWriter = writer if writer is not None else TemplateWriter()

    def _finish(
        self,
        subject: _Subject,
        kind: ExplanationKind,
        sentences: Sequence[ExplanationSentence],
        confidence: float,
        other_session_id: str | None = None,
    ) -> Explanation:
        wording = self.writer.write(sentences, kind)
        evidence = list(dict.fromkeys(event_id for item in wording.sentences for event_id in item.evidence_event_ids))
        return Explanation(
            session_id=subject.session.id,
            kind=kind,
            text=" ".join(sentence.text for sentence in wording.sentences),
            evidence_event_ids=evidence,
            confidence=bounded(confidence),
            sentences=wording.sentences,
            agent_id=subject.session.agent_id,
            other_session_id=other_session_id,
            generator=wording.generator,
        )

    def explain_behaviour(
        self, session: MonitoringSession, events: Sequence[AgentEvent], timeline: EpistemicTimeline | None = None
    ) -> Explanation:
        """What the session did: task, steps and tools, failures and recoveries, loops, beliefs, goals, ending."""
        return self._behaviour(_Subject(session, events, timeline))

    def _behaviour(self, subject: _Subject) -> Explanation:
        sentences = behaviour_sentences(subject.session, subject.facts, subject.mind, subject.drafter)
        confidence = evidence_confidence(ExplanationKind.BEHAVIOUR, sentences)
        return self._finish(subject, ExplanationKind.BEHAVIOUR, sentences, confidence)

    def explain_failure(
        self,
        session: MonitoringSession,
        events: Sequence[AgentEvent],
        timeline: EpistemicTimeline | None = None,
        attribution: FailureAttribution | None = None,
    ) -> Explanation:
        """The evidence of what went wrong: the attribution's top candidates when given, else the failure signals."""
        return self._failure(_Subject(session, events, timeline), attribution)

    def _failure(self, subject: _Subject, attribution: FailureAttribution | None) -> Explanation:
        sentences = failure_sentences(subject.session, subject.facts, subject.mind, subject.drafter, attribution)
        confidence = evidence_confidence(ExplanationKind.FAILURE, sentences)
        if attribution is not None and attribution.candidates:
            confidence *= 0.5 + 0.5 * max(candidate.confidence for candidate in attribution.candidates)
        else:
            confidence *= HEURISTIC_FAILURE_WEIGHT
        return self._finish(subject, ExplanationKind.FAILURE, sentences, confidence)

    def explain_prediction(
        self,
        session: MonitoringSession,
        events: Sequence[AgentEvent],
        prediction: Prediction,
        drivers: Sequence[PredictionDriver] = (),
    ) -> Explanation:
        """The forecast at its step and the drivers that moved it most, each citing the events it was read from."""
        subject = _Subject(session, events, None)
        sentences = prediction_sentences(prediction, drivers, subject.facts, subject.drafter)
        total = sum(abs(driver.contribution) for driver in drivers)
        cited = sum(abs(driver.contribution) for driver in ranked_drivers(drivers, subject.drafter))
        # A forecast whose drivers cannot be shown is explained only by its headline: half the confidence.
        driver_share = cited / total if total > 0 else 0.0
        confidence = prediction.confidence * (0.5 + 0.5 * driver_share) if sentences else 0.0
        return self._finish(subject, ExplanationKind.PREDICTION, sentences, confidence)

    def compare(self, left: SessionEvidence, right: SessionEvidence) -> Explanation:
        """How two sessions differ (A is ``left``, B is ``right``); every sentence cites events of both."""
        subjects = [_Subject(side.session, side.events, side.timeline) for side in (left, right)]
        index = EvidenceIndex([*subjects[0].events, *subjects[1].events])
        sides = [Side(subject.session, subject.facts, subject.mind, subject.has_timeline) for subject in subjects]
        sentences = comparison_sentences(sides[0], sides[1], Drafter(index))
        cited = {event_id for sentence in sentences for event_id in sentence.evidence_event_ids}
        per_side = [evidence_amount(event.id for event in subject.events if event.id in cited) for subject in subjects]
        confidence = min(per_side) if sentences else 0.0
        if not all(subject.has_timeline for subject in subjects):
            confidence *= NO_TIMELINE_WEIGHT
        return self._finish(
            subjects[0], ExplanationKind.COMPARISON, sentences, confidence, other_session_id=right.session.id
        )

    def explain_session(
        self,
        session: MonitoringSession,
        events: Sequence[AgentEvent],
        timeline: EpistemicTimeline | None = None,
        attribution: FailureAttribution | None = None,
    ) -> list[Explanation]:
        """The behaviour explanation, plus a failure explanation when the session failed or shows failure signals."""
        subject = _Subject(session, events, timeline)
        explanations = [self._behaviour(subject)]
        failed = reported_failed(session) or has_failure_signals(subject.facts, subject.mind)
        if failed or (attribution is not None and attribution.candidates):
            explanations.append(self._failure(subject, attribution))
        return explanations
