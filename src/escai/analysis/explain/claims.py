"""Which events can support which claim, and a checker that an explanation's every citation holds.

Each :class:`~escai.model.records.ClaimType` names the events that can back it (its docstring says which); this
module turns those words into rules over an event's type, status and attributes:

============== ==========================================================================================
claim          supported by
============== ==========================================================================================
task           session_start, agent_start, a message from a user, system, human or developer role
action         tool_call, decision, handoff, message, llm_response
tool_failure   a tool_result or error with status error, or any non-lifecycle event with a non-zero exit code
tool_success   a tool_result with status ok (or unset with exit code 0) and no non-zero exit code
belief         what the agent said (thought, message, llm_response, plan, decision, observation, memory,
               handoff) and what it saw that moved its confidence (tool_result, error)
revision       the same events as belief: the stating event and the revising one
goal           the belief events plus the session's and agents' start and end (where goals are set and met)
repetition     the action events; the sentence must cite at least two of them
error          an error event, or a non-lifecycle event with status error
outcome        session_end, agent_end, or one of the last :data:`OUTCOME_TAIL` events of the session
prediction     any event of the session (a predictor's features may be read from any of them)
attribution    any non-lifecycle event (an agent's step)
comparison     any event of either session; the sentence must cite events of both
============== ==========================================================================================

Session lifecycle events never support a tool failure or an error: an importer puts the recorded outcome (the
ground truth) on session_end, and a claim about a failed tool must rest on the tool's own result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import ClaimType, Explanation, ExplanationSentence
from escai.model.semconv import MESSAGE_ROLE, PROCESS_EXIT_CODE

OUTCOME_TAIL = 3
"""How many of a session's last events count as "how it ended" besides session_end and agent_end."""

LIFECYCLE_TYPES = frozenset(
    {EventType.SESSION_START, EventType.SESSION_END, EventType.AGENT_START, EventType.AGENT_END}
)
ACTION_TYPES = frozenset(
    {EventType.TOOL_CALL, EventType.DECISION, EventType.HANDOFF, EventType.MESSAGE, EventType.LLM_RESPONSE}
)
STATEMENT_TYPES = frozenset(
    {
        EventType.THOUGHT,
        EventType.MESSAGE,
        EventType.LLM_RESPONSE,
        EventType.PLAN,
        EventType.DECISION,
        EventType.OBSERVATION,
        EventType.MEMORY,
        EventType.HANDOFF,
    }
)
"""Events whose text is the agent's own: where beliefs are read."""
BELIEF_TYPES = STATEMENT_TYPES | {EventType.TOOL_RESULT, EventType.ERROR}
GOAL_TYPES = BELIEF_TYPES | LIFECYCLE_TYPES
TASK_ROLES = frozenset({"user", "system", "human", "developer"})
"""Message roles that set a task rather than act on it."""

_MIN_CITATIONS = {ClaimType.REPETITION: 2}


def exit_code(event: AgentEvent) -> int | None:
    """The event's process exit code (OpenTelemetry's ``process.exit.code``), None when absent or not a number."""
    value = event.attributes.get(PROCESS_EXIT_CODE)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_tool_failure(event: AgentEvent) -> bool:
    """A tool or command failed: a tool_result or error with status error, or a non-zero exit code."""
    if event.type in LIFECYCLE_TYPES:
        return False
    code = exit_code(event)
    if code is not None and code != 0:
        return True
    return event.type in (EventType.TOOL_RESULT, EventType.ERROR) and event.status is EventStatus.ERROR


def is_tool_success(event: AgentEvent) -> bool:
    """A tool or command succeeded: a tool_result with status ok (or unset with exit code 0), no failing code."""
    if event.type is not EventType.TOOL_RESULT:
        return False
    code = exit_code(event)
    if code is not None:
        return code == 0 and event.status is not EventStatus.ERROR
    return event.status is EventStatus.OK


def is_error(event: AgentEvent) -> bool:
    """An error event, or another non-lifecycle event with status error."""
    if event.type is EventType.ERROR:
        return True
    return event.type not in LIFECYCLE_TYPES and event.status is EventStatus.ERROR


def sets_task(event: AgentEvent) -> bool:
    """The event states what the session or an agent is to do."""
    if event.type in (EventType.SESSION_START, EventType.AGENT_START):
        return True
    role = event.attributes.get(MESSAGE_ROLE)
    return event.type is EventType.MESSAGE and isinstance(role, str) and role.lower() in TASK_ROLES


class EvidenceIndex:
    """The events of one or more sessions, indexed for the question "can this event support this claim?".

    It needs every event of each session (not only the cited ones): an outcome claim may rest on "the last
    events", which only the whole session can tell.
    """

    def __init__(self, events: Iterable[AgentEvent]) -> None:
        self.by_id: dict[str, AgentEvent] = {}
        per_session: dict[str, list[AgentEvent]] = defaultdict(list)
        for event in events:
            self.by_id[event.id] = event
            per_session[event.session_id].append(event)
        self._tail_ids: set[str] = set()
        for session_events in per_session.values():
            # Stable sort: events with equal timestamps keep the order they were given in.
            ordered = sorted(session_events, key=lambda item: item.timestamp)
            self._tail_ids.update(event.id for event in ordered[-OUTCOME_TAIL:])

    def supports(self, claim: ClaimType, event: AgentEvent) -> bool:
        """Whether ``event`` is the kind of event that can back a sentence making ``claim``."""
        match claim:
            case ClaimType.TASK:
                return sets_task(event)
            case ClaimType.ACTION | ClaimType.REPETITION:
                return event.type in ACTION_TYPES
            case ClaimType.TOOL_FAILURE:
                return is_tool_failure(event)
            case ClaimType.TOOL_SUCCESS:
                return is_tool_success(event)
            case ClaimType.BELIEF | ClaimType.REVISION:
                return event.type in BELIEF_TYPES
            case ClaimType.GOAL:
                return event.type in GOAL_TYPES
            case ClaimType.ERROR:
                return is_error(event)
            case ClaimType.OUTCOME:
                return event.type in (EventType.SESSION_END, EventType.AGENT_END) or event.id in self._tail_ids
            case ClaimType.ATTRIBUTION:
                return event.type not in LIFECYCLE_TYPES
            case ClaimType.PREDICTION | ClaimType.COMPARISON:
                return True
        return False  # pragma: no cover - a claim type added to the model without a rule here

    def supporting(self, claim: ClaimType, events: Iterable[AgentEvent]) -> list[AgentEvent]:
        """The events among ``events`` that can back ``claim``, in order, once each."""
        seen: set[str] = set()
        kept = []
        for event in events:
            if event.id not in seen and self.supports(claim, event):
                seen.add(event.id)
                kept.append(event)
        return kept


def _describe(event: AgentEvent) -> str:
    code = exit_code(event)
    details = [event.type.value, f"status {event.status.value}"]
    if code is not None:
        details.append(f"exit code {code}")
    return ", ".join(details)


def _check_sentence(
    number: int,
    sentence: ExplanationSentence,
    explanation: Explanation,
    index: EvidenceIndex,
) -> list[str]:
    label = f"sentence {number} ({sentence.claim.value})"
    if not sentence.evidence_event_ids:
        return [f"{label} cites no event"]
    problems = []
    allowed_sessions = {explanation.session_id, explanation.other_session_id} - {None}
    cited_sessions = set()
    for event_id in sentence.evidence_event_ids:
        event = index.by_id.get(event_id)
        if event is None:
            problems.append(f"{label}: event {event_id!r} is unknown")
            continue
        cited_sessions.add(event.session_id)
        if event.session_id not in allowed_sessions:
            problems.append(f"{label}: event {event_id!r} belongs to another session ({event.session_id!r})")
        elif not index.supports(sentence.claim, event):
            problems.append(f"{label}: event {event_id!r} ({_describe(event)}) does not support this claim")
    minimum = _MIN_CITATIONS.get(sentence.claim, 1)
    if len(set(sentence.evidence_event_ids)) < minimum:
        problems.append(f"{label} needs at least {minimum} cited events")
    if sentence.claim is ClaimType.COMPARISON:
        if explanation.other_session_id is None:
            problems.append(f"{label}: a comparison needs the explanation's other_session_id")
        elif not allowed_sessions <= cited_sessions:
            problems.append(f"{label} does not cite events of both sessions")
    return problems


def check_citations(explanation: Explanation, events_by_id: Mapping[str, AgentEvent]) -> list[str]:
    """Every problem with an explanation's citations; an empty list when each one holds.

    ``events_by_id`` must hold every event of the explained session (and of the other session of a comparison).
    Reported: an explanation without sentences, a sentence without citations, an unknown id, an event of a
    session the explanation is not about, an event that cannot support its sentence's claim (see the table in
    this module's docstring), too few events for a repetition, a comparison that does not cite both sessions,
    ``evidence_event_ids`` that are not the union of the sentences' ids, and ``text`` that is not the sentences
    joined.
    """
    if not explanation.sentences:
        return ["the explanation has no sentences"]
    index = EvidenceIndex(events_by_id.values())
    problems = []
    for number, sentence in enumerate(explanation.sentences, start=1):
        problems.extend(_check_sentence(number, sentence, explanation, index))
    cited = {event_id for sentence in explanation.sentences for event_id in sentence.evidence_event_ids}
    listed = set(explanation.evidence_event_ids)
    if missing := sorted(cited - listed):
        problems.append(f"evidence_event_ids lacks ids the sentences cite: {missing}")
    if extra := sorted(listed - cited):
        problems.append(f"evidence_event_ids has ids no sentence cites: {extra}")
    if len(explanation.evidence_event_ids) != len(listed):
        problems.append("evidence_event_ids lists an id more than once")
    if explanation.text != " ".join(sentence.text for sentence in explanation.sentences):
        problems.append("text is not the sentences joined")
    return problems
