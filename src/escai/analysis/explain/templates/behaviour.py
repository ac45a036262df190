"""Sentences that describe a session's behaviour: task, activity, tool results, recoveries, loops, mind, ending.

Each function returns a sentence (or None when the session has nothing to say on that point); the facts come from
:mod:`escai.analysis.explain.facts` and :mod:`escai.analysis.explain.mind`.
"""

from __future__ import annotations

from collections import Counter

from escai.analysis.explain.facts import Failure, Repetition, SessionFacts, ToolUsage
from escai.analysis.explain.mind import ConfidencePath, MindFacts
from escai.analysis.explain.templates.drafting import Drafter, SentenceList
from escai.analysis.explain.text import (
    clip,
    describe_action,
    join_words,
    patch_files,
    plural,
    quote,
    steps_text,
)
from escai.model.events import AgentEvent, EventType
from escai.model.records import (
    BeliefRevision,
    ClaimType,
    ExplanationSentence,
    GoalStatus,
    MonitoringSession,
    SessionStatus,
)

TASK_QUOTE_LIMIT = 140
SHOWN_TOOLS = 5
"""Tools named one by one in the activity sentence; the rest are counted."""
SHOWN_REPETITIONS = 2
MIN_REPEATS = 3
"""An identical action repeated this often is reported even when the repeats were not back to back."""
SHOWN_CONTRADICTIONS = 2
SHOWN_GOALS = 2


def step_of(event: AgentEvent) -> str:
    """``step 12`` or, for an event without a step, its time (``12:04:31 UTC``)."""
    return f"step {event.step_index}" if event.step_index is not None else f"{event.timestamp:%H:%M:%S} UTC"


def task_sentence(facts: SessionFacts, drafter: Drafter) -> ExplanationSentence | None:
    """What the session set out to do, quoted."""
    if facts.task is None:
        return None
    return drafter.sentence(
        ClaimType.TASK, f"The session's task: {quote(facts.task, TASK_QUOTE_LIMIT)}.", facts.task_events
    )


def _tool_counts(tools: tuple[ToolUsage, ...]) -> str:
    used = [usage for usage in tools if usage.calls]
    shown = [f"{usage.tool} ×{len(usage.calls)}" for usage in used[:SHOWN_TOOLS]]
    if len(used) > SHOWN_TOOLS:
        shown.append(plural(len(used) - SHOWN_TOOLS, "other tool"))
    return join_words(shown)


def activity_sentence(facts: SessionFacts, drafter: Drafter) -> ExplanationSentence | None:
    """How many steps, which agents acted and which tools they used how often."""
    actions = [event for events in facts.agents.values() for event in events]
    if not actions:
        return None
    calls = facts.tool_calls
    others = Counter(event.type.value.replace("_", " ") for event in actions if event.type is not EventType.TOOL_CALL)
    other_text = join_words([plural(count, kind) for kind, count in others.most_common(3)])
    if len(facts.agents) == 1:
        (agent,) = facts.agents
        doing = [f"made {plural(len(calls), 'tool call')} ({_tool_counts(facts.tools)})"] if calls else []
        if other_text:
            doing.append(f"produced {other_text}")
        text = f"Over {plural(facts.step_count, 'step')}, {agent} {join_words(doing)}."
    else:
        busiest = [f"{agent} ({plural(len(events), 'action')})" for agent, events in list(facts.agents.items())[:6]]
        if len(facts.agents) > 6:
            busiest.append(plural(len(facts.agents) - 6, "other"))
        text = f"Over {plural(facts.step_count, 'step')}, {len(facts.agents)} agents acted: {join_words(busiest)}"
        text += f"; they made {plural(len(calls), 'tool call')} ({_tool_counts(facts.tools)})." if calls else "."
    return drafter.sentence(ClaimType.ACTION, text, calls or actions)


def _exit_codes(failures: tuple[Failure, ...]) -> str:
    codes = Counter(failure.exit_code for failure in failures if failure.exit_code is not None)
    if not codes:
        return ""
    return " (" + ", ".join(f"exit code {code} ×{count}" for code, count in codes.most_common(3)) + ")"


def results_sentence(facts: SessionFacts, drafter: Drafter) -> ExplanationSentence | None:
    """How many tool results failed, per tool with exit codes, and the latest error; or that none failed."""
    failures = facts.tool_failures
    results = len(facts.tool_results)
    if not failures:
        successes = [event for usage in facts.tools for event in usage.successes]
        if not successes:
            return None
        if len(successes) == results:
            text = "The only tool result succeeded." if results == 1 else f"All {results} tool results succeeded."
        else:
            text = f"None of the {plural(results, 'tool result')} failed; {len(successes)} reported success."
        return drafter.sentence(ClaimType.TOOL_SUCCESS, text, successes)
    per_tool = [
        f"{usage.tool} {len(usage.failures)}{_exit_codes(usage.failures)}" for usage in facts.tools if usage.failures
    ]
    latest = failures[-1]
    text = f"{len(failures)} of {plural(results, 'tool result')} failed: {join_words(per_tool[:SHOWN_TOOLS])}"
    if latest.message:
        text += f"; the latest, at {step_of(latest.event)}, said {quote(latest.message)}"
    return drafter.sentence(ClaimType.TOOL_FAILURE, text + ".", [failure.event for failure in failures])


def recovery_sentences(facts: SessionFacts, drafter: Drafter) -> list[ExplanationSentence]:
    """Whether failed tools later succeeded, and which failed for good (the last such failure of each tool)."""
    sentences = SentenceList()
    failures = facts.tool_failures
    recovered = [failure for failure in failures if failure.recovery is not None]
    if recovered:
        example = recovered[-1]
        assert example.recovery is not None  # narrowed by the filter above
        share = (
            ("Both failures were" if len(failures) == 2 else f"All {len(failures)} failures were")
            if len(recovered) == len(failures) > 1
            else "The failure was"
            if len(failures) == 1
            else f"{len(recovered)} of the {len(failures)} failures were"
        )
        text = (
            f"{share} followed by a later success of the same tool (most recently {example.tool or 'a tool'} "
            f"failed at {step_of(example.event)} and succeeded at {step_of(example.recovery)})."
        )
        sentences.add(drafter.sentence(ClaimType.TOOL_SUCCESS, text, [f.recovery for f in recovered if f.recovery]))
    last_unrecovered: dict[str, Failure] = {}
    for failure in failures:
        if failure.recovery is None:
            last_unrecovered[failure.tool or "a tool"] = failure
    for tool, failure in list(last_unrecovered.items())[-SHOWN_REPETITIONS:]:
        said = f" ({quote(failure.message)})" if failure.message else ""
        text = f"{tool} failed at {step_of(failure.event)}{said} and never succeeded afterwards."
        sentences.add(drafter.sentence(ClaimType.TOOL_FAILURE, text, [failure.event]))
    return sentences


def errors_sentence(facts: SessionFacts, drafter: Drafter) -> ExplanationSentence | None:
    """The error events: how many, the latest with its message, and whether work succeeded after them."""
    errors = facts.errors
    if not errors:
        return None
    latest = errors[-1]
    name = latest.event.name or "error"
    said = f" ({quote(latest.message)})" if latest.message else ""
    after = "; a tool succeeded after it" if latest.recovery is not None else "; no tool succeeded after it"
    verb = "was" if len(errors) == 1 else "were"
    text = f"{plural(len(errors), 'error event')} {verb} logged, the latest {name} at {step_of(latest.event)}{said}"
    return drafter.sentence(ClaimType.ERROR, text + after + ".", [failure.event for failure in errors])


def repetition_sentence(repetition: Repetition, drafter: Drafter) -> ExplanationSentence | None:
    """One repeated identical action: who, what, how often, at which steps, how many times back to back."""
    events = repetition.events
    text = (
        f"{repetition.agent_id} repeated the same {describe_action(events[0])} {len(events)} times "
        f"({steps_text(events)})"
    )
    if repetition.back_to_back:
        text += f", {repetition.back_to_back} of them right after the identical action"
    return drafter.sentence(ClaimType.REPETITION, text + ".", events)


def repetition_sentences(facts: SessionFacts, drafter: Drafter) -> list[ExplanationSentence]:
    """The most repeated identical actions that look like loops (back to back, or at least :data:`MIN_REPEATS`)."""
    loops = [item for item in facts.repetitions if item.back_to_back or len(item.events) >= MIN_REPEATS]
    sentences = SentenceList()
    for repetition in loops[:SHOWN_REPETITIONS]:
        sentences.add(repetition_sentence(repetition, drafter))
    return sentences


def revision_sentence(revision: BeliefRevision, drafter: Drafter) -> ExplanationSentence | None:
    """One belief revision: the step, whose belief, what happened to it and why."""
    reason = f": {clip(revision.reason, 120)}" if revision.reason else ""
    text = (
        f"At step {revision.step_index}, {revision.agent_id}'s belief {quote(revision.statement)} was "
        f"{revision.kind.value} (confidence {revision.previous_confidence:.2f} to {revision.new_confidence:.2f})"
        f"{reason}."
    )
    return drafter.sentence(ClaimType.REVISION, text, drafter.events_of(revision.evidence_event_ids))


def mind_sentences(mind: MindFacts, drafter: Drafter) -> list[ExplanationSentence]:
    """Belief revisions (counted by kind, contradictions quoted), goals by status and the confidence trajectory."""
    sentences = SentenceList()
    if mind.revisions:
        kinds = Counter(revision.kind for revision in mind.revisions)
        counted = join_words([f"{count} {kind.value}" for kind, count in kinds.most_common()])
        evidence = drafter.events_of(event_id for item in mind.revisions for event_id in item.evidence_event_ids)
        times = "once" if len(mind.revisions) == 1 else f"{len(mind.revisions)} times"
        text = f"Beliefs were revised {times} ({counted})."
        sentences.add(drafter.sentence(ClaimType.REVISION, text, evidence))
    for revision in mind.contradictions[-SHOWN_CONTRADICTIONS:]:
        sentences.add(revision_sentence(revision, drafter))
    sentences.add(goals_sentence(mind, drafter))
    if mind.confidence is not None:
        sentences.add(confidence_sentence(mind.confidence, drafter))
    return sentences


def goals_sentence(mind: MindFacts, drafter: Drafter, *statuses: GoalStatus) -> ExplanationSentence | None:
    """The goals by last status (only ``statuses`` when given), quoted; goals still active are only counted."""
    wanted = statuses or (GoalStatus.ACHIEVED, GoalStatus.BLOCKED, GoalStatus.ABANDONED, GoalStatus.ACTIVE)
    parts: list[str] = []
    evidence = []
    for status in wanted:
        goals = list({goal.description: goal for goal in mind.goals_with(status)}.values())
        if not goals:
            continue
        evidence.extend(drafter.events_of(event_id for goal in goals for event_id in goal.evidence_event_ids))
        if status is GoalStatus.ACTIVE and parts:
            # Open goals are many and mostly restate the task; once settled goals are named, a count says enough.
            parts.append(f"{len(goals)} still active")
            continue
        quoted = [quote(goal.description, 60) for goal in goals[:SHOWN_GOALS]]
        if len(goals) > SHOWN_GOALS:
            quoted.append(f"{len(goals) - SHOWN_GOALS} more")
        parts.append(f"{status.value} {join_words(quoted)}")
    if not parts:
        return None
    return drafter.sentence(ClaimType.GOAL, f"Goals at the end: {'; '.join(parts)}.", evidence)


def confidence_sentence(path: ConfidencePath, drafter: Drafter) -> ExplanationSentence | None:
    """Where confidence started, its lowest point with the step, and where it ended."""
    start, lowest, end = path.start, path.lowest, path.end
    if start is end:
        text = f"The timeline has one confidence reading, {start.confidence:.2f} at step {start.step_index}."
    elif round(lowest.confidence, 2) >= round(min(start.confidence, end.confidence), 2):
        text = (
            f"Confidence went from {start.confidence:.2f} at step {start.step_index} to {end.confidence:.2f} "
            f"at step {end.step_index}, never lower than {lowest.confidence:.2f}."
        )
    else:
        text = (
            f"Confidence started at {start.confidence:.2f} (step {start.step_index}), fell to its lowest, "
            f"{lowest.confidence:.2f}, at step {lowest.step_index}, and ended at {end.confidence:.2f} "
            f"(step {end.step_index})."
        )
    return drafter.sentence(ClaimType.BELIEF, text, drafter.events_of([start.event_id, lowest.event_id, end.event_id]))


def reported_outcome(session: MonitoringSession) -> str:
    """What the producer reported about the outcome, as a clause (the labels of imported data are not used)."""
    score = f" (score {session.outcome_score:g})" if session.outcome_score is not None else ""
    if session.outcome_success is True:
        return f"the producer reported success{score}"
    if session.outcome_success is False:
        return f"the producer reported failure{score}"
    if session.status is SessionStatus.FAILED:
        return "the session's status was set to failed"
    return "no outcome was reported"


def ending_sentence(session: MonitoringSession, facts: SessionFacts, drafter: Drafter) -> ExplanationSentence | None:
    """How the session ended: its length, its last act (a patch's files, a quoted message) and any reported outcome."""
    final = facts.final_event
    if final is not None and not drafter.index.supports(ClaimType.OUTCOME, final):
        final = None  # lifecycle events trail it: it is not one of the session's last events, so not quoted
    text = f"The session ended after {plural(len(facts.events), 'event')}"
    patch = next((event for event in (final, facts.end_event) if event and patch_files(event.content)), None)
    if patch is not None:
        files = patch_files(patch.content)
        shown = join_words(files[:4] + ([f"{len(files) - 4} more"] if len(files) > 4 else []))
        text += f"; its final output was a patch to {plural(len(files), 'file')} ({shown})"
    elif final is not None and final.content:
        kind = final.type.value.replace("_", " ")
        text += f"; the last was {final.agent_id}'s {kind} at {step_of(final)}: {quote(final.content, 100)}"
    text += f"; {reported_outcome(session)}."
    evidence = [event for event in (patch or final, facts.end_event) if event is not None]
    return drafter.sentence(ClaimType.OUTCOME, text, evidence)


def behaviour_sentences(
    session: MonitoringSession, facts: SessionFacts, mind: MindFacts, drafter: Drafter
) -> list[ExplanationSentence]:
    """The behaviour explanation's sentences, in reading order."""
    sentences = SentenceList()
    sentences.add(task_sentence(facts, drafter))
    sentences.add(activity_sentence(facts, drafter))
    sentences.add(results_sentence(facts, drafter))
    sentences.extend(recovery_sentences(facts, drafter))
    sentences.add(errors_sentence(facts, drafter))
    sentences.extend(repetition_sentences(facts, drafter))
    sentences.extend(mind_sentences(mind, drafter))
    sentences.add(ending_sentence(session, facts, drafter))
    return sentences
