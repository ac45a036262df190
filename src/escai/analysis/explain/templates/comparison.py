"""Sentences that compare two sessions: what each worked on, then the largest differences, each citing both.

Sessions are called A (the left one) and B (the right one). A difference is reported when it is large enough to
matter: counts that differ by at least :data:`MIN_RELATIVE` of the larger one and by two or more (or zero against
some), confidences that differ by :data:`MIN_CONFIDENCE_GAP`. The largest relative differences come first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from escai.analysis.explain.facts import SessionFacts
from escai.analysis.explain.mind import MindFacts
from escai.analysis.explain.templates.behaviour import MIN_REPEATS, reported_outcome
from escai.analysis.explain.templates.drafting import Drafter, SentenceList
from escai.analysis.explain.text import describe_action, flatten, quote
from escai.model.events import AgentEvent
from escai.model.records import ExplanationSentence, GoalStatus, MonitoringSession

MIN_RELATIVE = 0.25
MIN_ABSOLUTE = 2
MIN_CONFIDENCE_GAP = 0.15
SHOWN_DIFFERENCES = 5


@dataclass(frozen=True, slots=True)
class Side:
    """One session of a comparison with its facts (the left one is called A, the right one B)."""

    session: MonitoringSession
    facts: SessionFacts
    mind: MindFacts
    has_timeline: bool

    def context(self) -> list[AgentEvent]:
        """Events that stand for the whole session when a count is zero: its tool results, else actions, else all."""
        actions = [event for events in self.facts.agents.values() for event in events]
        return list(self.facts.tool_results) or actions or list(self.facts.events)


@dataclass(frozen=True, slots=True)
class Difference:
    """One notable difference between A and B, with its sentence and the evidence on each side."""

    size: float
    """Relative size in [0, 1], for ordering."""
    text: str
    left: list[AgentEvent]
    right: list[AgentEvent]


def _count_difference(left: int, right: int) -> float | None:
    larger = max(left, right)
    if left == right:
        return None
    relative = abs(left - right) / larger
    if min(left, right) == 0 or (relative >= MIN_RELATIVE and abs(left - right) >= MIN_ABSOLUTE):
        return relative
    return None


def _evidence(side: Side, events: Sequence[AgentEvent]) -> list[AgentEvent]:
    return list(events) or side.context()


CountReader = Callable[[Side], tuple[int, Sequence[AgentEvent]]]


def _tool_noun(left: Side, right: Side) -> str:
    tools = {usage.tool for side in (left, right) for usage in side.facts.tools}
    return f"{tools.pop()} results" if len(tools) == 1 else "tool results"


def _loop(side: Side) -> tuple[int, Sequence[AgentEvent]]:
    loops = [item for item in side.facts.repetitions if item.back_to_back or len(item.events) >= MIN_REPEATS]
    return (len(loops[0].events), loops[0].events) if loops else (0, ())


def _failed(side: Side) -> tuple[int, Sequence[AgentEvent]]:
    return len(side.facts.tool_failures), [failure.event for failure in side.facts.tool_failures]


def _unrecovered(side: Side) -> tuple[int, Sequence[AgentEvent]]:
    return len(side.facts.unrecovered), [failure.event for failure in side.facts.unrecovered]


def _errors(side: Side) -> tuple[int, Sequence[AgentEvent]]:
    return len(side.facts.errors), [failure.event for failure in side.facts.errors]


def _steps(side: Side) -> tuple[int, Sequence[AgentEvent]]:
    return side.facts.step_count, [event for events in side.facts.agents.values() for event in events]


def _calls(side: Side) -> tuple[int, Sequence[AgentEvent]]:
    return len(side.facts.tool_calls), side.facts.tool_calls


def _contradictions(side: Side) -> tuple[int, Sequence[AgentEvent]]:
    return len(side.mind.contradictions), _revision_events(side, contradictions_only=True)


def _revisions(side: Side) -> tuple[int, Sequence[AgentEvent]]:
    return len(side.mind.revisions), _revision_events(side, contradictions_only=False)


def _lost_goals(side: Side) -> tuple[int, Sequence[AgentEvent]]:
    goals = side.mind.goals_with(GoalStatus.BLOCKED, GoalStatus.ABANDONED)
    ids = {event_id for goal in goals for event_id in goal.evidence_event_ids}
    return len(goals), [event for event in side.facts.events if event.id in ids]


def _measures(left: Side, right: Side) -> list[tuple[CountReader, Callable[[int, int], str]]]:
    """What is counted on both sides, each with the sentence that states the two counts (A's first)."""
    noun = _tool_noun(left, right)
    results = (len(left.facts.tool_results), len(right.facts.tool_results))
    loops = (_named_loop(left), _named_loop(right))
    measures: list[tuple[CountReader, Callable[[int, int], str]]] = [
        (
            _failed,
            lambda ours, theirs: f"{ours} of A's {results[0]} {noun} failed, against {theirs} of B's {results[1]}.",
        ),
        (
            _unrecovered,
            lambda ours, theirs: f"A had {ours} failures never followed by a success of the same tool, B had {theirs}.",
        ),
        (_errors, lambda ours, theirs: f"A logged {ours} error events and B {theirs}."),
        (
            _loop,
            lambda ours, theirs: (
                f"A's most repeated identical action{loops[0]} ran {ours} times, B's{loops[1]} {theirs}."
            ),
        ),
        (_steps, lambda ours, theirs: f"A took {ours} steps and B {theirs}."),
        (_calls, lambda ours, theirs: f"A made {ours} tool calls and B {theirs}."),
    ]
    if left.has_timeline and right.has_timeline:
        measures += [
            (_contradictions, lambda ours, theirs: f"A had {ours} beliefs contradicted or retracted, B {theirs}."),
            (_revisions, lambda ours, theirs: f"A revised beliefs {ours} times and B {theirs} times."),
            (_lost_goals, lambda ours, theirs: f"A ended with {ours} goals blocked or abandoned, B with {theirs}."),
        ]
    return measures


def _revision_events(side: Side, *, contradictions_only: bool) -> list[AgentEvent]:
    revisions = side.mind.contradictions if contradictions_only else side.mind.revisions
    ids = {event_id for revision in revisions for event_id in revision.evidence_event_ids}
    return [event for event in side.facts.events if event.id in ids]


def differences(left: Side, right: Side) -> list[Difference]:
    """The notable differences between A (``left``) and B (``right``), largest first."""
    found = []
    for read, word in _measures(left, right):
        (left_count, left_events), (right_count, right_events) = read(left), read(right)
        size = _count_difference(left_count, right_count)
        if size is not None:
            text = word(left_count, right_count)
            found.append(Difference(size, text, _evidence(left, left_events), _evidence(right, right_events)))
    left_path, right_path = left.mind.confidence, right.mind.confidence
    if left_path is not None and right_path is not None:
        gap = abs(left_path.end.confidence - right_path.end.confidence)
        if gap >= MIN_CONFIDENCE_GAP:
            text = f"A's confidence ended at {left_path.end.confidence:.2f} and B's at {right_path.end.confidence:.2f}."
            left_end = [event for event in left.facts.events if event.id == left_path.end.event_id]
            right_end = [event for event in right.facts.events if event.id == right_path.end.event_id]
            found.append(Difference(gap, text, _evidence(left, left_end), _evidence(right, right_end)))
    outcomes = (left.session.outcome_success, right.session.outcome_success)
    if None not in outcomes and outcomes[0] != outcomes[1]:
        text = f"For A {reported_outcome(left.session)}; for B {reported_outcome(right.session)}."
        found.append(Difference(1.0, text, _ending(left), _ending(right)))
    return sorted(found, key=lambda difference: -difference.size)


def _ending(side: Side) -> list[AgentEvent]:
    return [event for event in (side.facts.end_event, side.facts.final_event) if event is not None]


def _task_events(side: Side) -> list[AgentEvent]:
    return list(side.facts.task_events) or list(side.facts.events[:1])


def intro_sentence(left: Side, right: Side, drafter: Drafter) -> ExplanationSentence | None:
    """Which sessions are A and B and what each worked on."""
    names = f"A is session {left.session.id} and B is session {right.session.id}"
    tasks = (left.facts.task, right.facts.task)
    if tasks[0] and tasks[1] and flatten(tasks[0]) == flatten(tasks[1]):
        text = f"{names}; both worked on the same task, {quote(tasks[0], 120)}."
    else:
        text = f"{names}; A worked on {quote(tasks[0] or 'an unstated task', 80)} and B on "
        text += f"{quote(tasks[1] or 'an unstated task', 80)}."
    return drafter.comparison(text, _task_events(left), _task_events(right))


def alike_sentence(left: Side, right: Side, drafter: Drafter) -> ExplanationSentence | None:
    """That no difference stood out, with the counts that were compared."""
    facts = (left.facts, right.facts)
    text = (
        f"No large difference stands out: A and B took {facts[0].step_count} and {facts[1].step_count} steps, made "
        f"{len(facts[0].tool_calls)} and {len(facts[1].tool_calls)} tool calls, and had "
        f"{len(facts[0].tool_failures)} and {len(facts[1].tool_failures)} failed tool results."
    )
    return drafter.comparison(text, left.context(), right.context())


def _named_loop(side: Side) -> str:
    count, events = _loop(side)
    return f" ({describe_action(events[0], 40)})" if count else ""


def comparison_sentences(left: Side, right: Side, drafter: Drafter) -> list[ExplanationSentence]:
    """The comparison's sentences: the intro, then up to :data:`SHOWN_DIFFERENCES` differences, largest first."""
    sentences = SentenceList()
    sentences.add(intro_sentence(left, right, drafter))
    found = differences(left, right)
    for difference in found[:SHOWN_DIFFERENCES]:
        sentences.add(drafter.comparison(difference.text, difference.left, difference.right))
    if not found:
        sentences.add(alike_sentence(left, right, drafter))
    return sentences
