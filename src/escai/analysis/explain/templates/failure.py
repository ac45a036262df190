"""Sentences that explain a failure: the attribution's top candidates, or the evidence of trouble in the events.

The wording presents evidence, not a verdict: "the last failure not followed by a success", "the attribution ranks
... first", "confidence fell ...". Without an attribution the signals are, in this order: the last unrecovered
tool failure (and error), contradicted beliefs, blocked or abandoned goals, a confidence collapse and loops.
"""

from __future__ import annotations

from escai.analysis.explain.facts import SessionFacts
from escai.analysis.explain.mind import MindFacts
from escai.analysis.explain.templates.behaviour import (
    SHOWN_CONTRADICTIONS,
    goals_sentence,
    reported_outcome,
    revision_sentence,
    step_of,
)
from escai.analysis.explain.templates.behaviour import repetition_sentences as _loop_sentences
from escai.analysis.explain.templates.drafting import Drafter, SentenceList
from escai.analysis.explain.text import clip, plural, quote
from escai.model.events import AgentEvent
from escai.model.records import (
    ClaimType,
    ExplanationSentence,
    FailureAttribution,
    FailureCandidate,
    GoalStatus,
    MonitoringSession,
    SessionStatus,
)

SHOWN_CANDIDATES = 3


def has_failure_signals(facts: SessionFacts, mind: MindFacts) -> bool:
    """Whether the events show trouble: an unrecovered failure, a contradiction, a lost goal, a confidence collapse."""
    return bool(
        facts.unrecovered
        or mind.contradictions
        or mind.goals_with(GoalStatus.BLOCKED, GoalStatus.ABANDONED)
        or (mind.confidence is not None and mind.confidence.collapsed)
    )


def reported_failed(session: MonitoringSession) -> bool:
    """The producer reported the session as failed (its outcome or its status)."""
    return session.outcome_success is False or session.status is SessionStatus.FAILED


def framing_sentence(
    session: MonitoringSession, facts: SessionFacts, mind: MindFacts, drafter: Drafter
) -> ExplanationSentence | None:
    """What is being explained: a reported failure, or failure signals in a session not reported as failed."""
    clause = reported_outcome(session)
    reported = clause[0].upper() + clause[1:]
    if reported_failed(session):
        text = f"{reported}; what follows is evidence that may explain the failure, not a verdict."
    elif has_failure_signals(facts, mind):
        text = f"{reported}, but the session's events show signs of trouble."
    else:
        text = (
            f"{reported}, and none of the session's {plural(len(facts.events), 'event')} shows an unrecovered "
            f"failure, a contradiction, a lost goal or a collapse of confidence."
        )
    return drafter.sentence(ClaimType.OUTCOME, text, [e for e in (facts.end_event, facts.final_event) if e])


def _candidate_events(candidate: FailureCandidate, facts: SessionFacts, drafter: Drafter) -> list[AgentEvent]:
    cited = drafter.events_of(candidate.evidence_event_ids)
    if drafter.index.supporting(ClaimType.ATTRIBUTION, cited):
        return cited
    # An attribution that names only (agent, step) is grounded in that agent's events at that step.
    at_step = [event for event in facts.events if event.step_index == candidate.step_index]
    by_agent = [event for event in at_step if event.agent_id == candidate.agent_id]
    return by_agent or at_step


def attribution_sentences(
    attribution: FailureAttribution, facts: SessionFacts, drafter: Drafter
) -> list[ExplanationSentence]:
    """The attribution's top candidates: agent, step, confidence and reason, the first one ranked first."""
    sentences = SentenceList()
    ranked = sorted(attribution.candidates, key=lambda candidate: -candidate.confidence)[:SHOWN_CANDIDATES]
    for rank, candidate in enumerate(ranked):
        reason = f": {clip(candidate.reason, 140)}" if candidate.reason else ""
        where = f"{candidate.agent_id} at step {candidate.step_index}"
        confidence = f"confidence {candidate.confidence:.2f}"
        if rank == 0:
            text = f"The {attribution.method} attribution ranks {where} first ({confidence}){reason}."
        else:
            text = f"It ranks {where} {_ordinal(rank + 1)} ({confidence}){reason}."
        sentences.add(drafter.sentence(ClaimType.ATTRIBUTION, text, _candidate_events(candidate, facts, drafter)))
    return sentences


def _ordinal(number: int) -> str:
    return {2: "second", 3: "third"}.get(number, f"{number}th")


def failure_evidence_sentences(facts: SessionFacts, mind: MindFacts, drafter: Drafter) -> list[ExplanationSentence]:
    """The signals of trouble in the events and the timeline, each worded as evidence."""
    sentences = SentenceList()
    unrecovered = [failure for failure in facts.tool_failures if failure.recovery is None]
    if unrecovered:
        last = unrecovered[-1]
        said = f", saying {quote(last.message)}" if last.message else ""
        code = f" with exit code {last.exit_code}" if last.exit_code is not None else ""
        text = (
            f"The last tool failure not followed by a success of the same tool was {last.tool or 'a tool'} at "
            f"{step_of(last.event)}{code}{said}"
        )
        if len(unrecovered) > 1:
            text += f" ({len(unrecovered)} such failures in all)"
        sentences.add(drafter.sentence(ClaimType.TOOL_FAILURE, text + ".", [f.event for f in unrecovered]))
    elif facts.tool_failures:
        last = facts.tool_failures[-1]
        count = len(facts.tool_failures)
        every = "The only tool failure was" if count == 1 else f"Each of the {count} tool failures was"
        said = f" ({quote(last.message)})" if last.message else ""
        text = (
            f"{every} followed by a later success of the same tool; the last failure was {last.tool or 'a tool'} "
            f"at {step_of(last.event)}{said}."
        )
        sentences.add(drafter.sentence(ClaimType.TOOL_FAILURE, text, [f.event for f in facts.tool_failures]))
    lasting_errors = [failure for failure in facts.errors if failure.recovery is None]
    if lasting_errors:
        last = lasting_errors[-1]
        said = f": {quote(last.message)}" if last.message else ""
        text = f"No tool succeeded after the {last.event.name or 'error'} event at {step_of(last.event)}{said}."
        sentences.add(drafter.sentence(ClaimType.ERROR, text, [f.event for f in lasting_errors]))
    for revision in mind.contradictions[-SHOWN_CONTRADICTIONS:]:
        sentences.add(revision_sentence(revision, drafter))
    sentences.add(goals_sentence(mind, drafter, GoalStatus.BLOCKED, GoalStatus.ABANDONED))
    path = mind.confidence
    if path is not None and path.collapsed:
        text = (
            f"Confidence fell from {path.drop_from.confidence:.2f} at step {path.drop_from.step_index} to "
            f"{path.drop_to.confidence:.2f} at step {path.drop_to.step_index} and ended at "
            f"{path.end.confidence:.2f}."
        )
        states = [path.drop_from.event_id, path.drop_to.event_id, path.end.event_id]
        sentences.add(drafter.sentence(ClaimType.BELIEF, text, drafter.events_of(states)))
    sentences.extend(_loop_sentences(facts, drafter))
    return sentences


def failure_sentences(
    session: MonitoringSession,
    facts: SessionFacts,
    mind: MindFacts,
    drafter: Drafter,
    attribution: FailureAttribution | None,
) -> list[ExplanationSentence]:
    """The failure explanation's sentences: framing, then the attribution's candidates, then the evidence."""
    sentences = SentenceList()
    sentences.add(framing_sentence(session, facts, mind, drafter))
    if attribution is not None and attribution.candidates:
        sentences.extend(attribution_sentences(attribution, facts, drafter))
    sentences.extend(failure_evidence_sentences(facts, mind, drafter))
    return sentences
