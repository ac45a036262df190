"""The informative facts of a session, read from its events: task, steps, tools, failures, recoveries, loops, end.

Everything here is counted from the events themselves (types, statuses, exit codes, tool names, contents), never
from the ground-truth labels an importer attaches to a session: an explanation must hold for a live session that
has no labels. Participants named after a chat role (``user``, ``system``, ``human``, ``developer``) set the task
or answer the agent; they are not counted as acting agents.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from escai.analysis.explain.claims import ACTION_TYPES, LIFECYCLE_TYPES, TASK_ROLES, exit_code, is_tool_failure
from escai.analysis.explain.claims import is_tool_success as _is_tool_success
from escai.analysis.explain.text import action_text, error_line, first_sentence, flatten, tool_name
from escai.model import semconv
from escai.model.events import AgentEvent, EventType
from escai.model.records import MonitoringSession

_SIGNATURE_LIMIT = 400
"""Characters of an action's text compared when looking for identical actions."""
_ANY_TOOL = "\x00any"
"""Key of the success positions of every tool (an error without a tool is recovered by any later success)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed tool result or an error event, with what came of it."""

    event: AgentEvent
    tool: str | None
    """The failed tool; None for an error that no tool raised."""
    message: str
    """The most telling line of its output."""
    exit_code: int | None
    recovery: AgentEvent | None
    """The first later success of the same tool (of any tool for an error without one); None: not recovered."""


@dataclass(frozen=True, slots=True)
class ToolUsage:
    """One tool's calls, successes and failures in a session."""

    tool: str
    calls: tuple[AgentEvent, ...]
    successes: tuple[AgentEvent, ...]
    failures: tuple[Failure, ...]


@dataclass(frozen=True, slots=True)
class Repetition:
    """One action that an agent performed more than once with identical content."""

    agent_id: str
    events: tuple[AgentEvent, ...]
    back_to_back: int
    """How many of the repeats came right after the same action by the same agent (nothing else done between)."""


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What a session's events say, ready for the templates."""

    session_id: str
    events: tuple[AgentEvent, ...]
    task: str | None
    task_events: tuple[AgentEvent, ...]
    step_count: int
    agents: dict[str, tuple[AgentEvent, ...]]
    """Each acting agent and its actions, busiest first."""
    tools: tuple[ToolUsage, ...]
    """Tools by number of calls, most used first."""
    tool_results: tuple[AgentEvent, ...]
    failures: tuple[Failure, ...]
    """Failed tool results and error events in order."""
    repetitions: tuple[Repetition, ...]
    """Repeated identical actions, most repeated first."""
    end_event: AgentEvent | None
    final_event: AgentEvent | None
    """The last event that is not a session or agent start or end."""
    tokens: int
    cost: float | None

    @property
    def tool_calls(self) -> list[AgentEvent]:
        """Every tool call of the session, in order."""
        return [event for event in self.events if event.type is EventType.TOOL_CALL]

    @property
    def tool_failures(self) -> list[Failure]:
        """The failures of tools (error events without a tool left out)."""
        return [failure for failure in self.failures if failure.event.type is not EventType.ERROR]

    @property
    def errors(self) -> list[Failure]:
        """The error events."""
        return [failure for failure in self.failures if failure.event.type is EventType.ERROR]

    @property
    def unrecovered(self) -> list[Failure]:
        """Failures never followed by a success of the same tool."""
        return [failure for failure in self.failures if failure.recovery is None]


def is_participant(event: AgentEvent) -> bool:
    """The event comes from a chat participant that sets the task (user, system, ...), not from an agent."""
    return event.agent_id.lower() in TASK_ROLES


def order_events(session_id: str, events: Iterable[AgentEvent]) -> list[AgentEvent]:
    """The events of ``session_id`` in time order; events with equal timestamps keep their given order."""
    return sorted((event for event in events if event.session_id == session_id), key=lambda event: event.timestamp)


def _task(session: MonitoringSession, events: Sequence[AgentEvent]) -> tuple[str | None, list[AgentEvent]]:
    start = next((event for event in events if event.type is EventType.SESSION_START), None)
    first_input = next((event for event in events if event.type is EventType.MESSAGE and is_participant(event)), None)
    texts: list[tuple[str | None, AgentEvent | None]] = [
        (session.task, start),
        (start.attributes.get(semconv.ESCAI_TASK) if start else None, start),
        (start.content if start else None, start),
        (first_input.content if first_input else None, first_input),
    ]
    for text, event in texts:
        if isinstance(text, str) and text.strip() and event is not None:
            return text, [event]
    return None, []


def _step_count(events: Sequence[AgentEvent]) -> int:
    steps = {event.step_index for event in events if event.step_index is not None}
    if steps:
        return len(steps)
    return sum(1 for event in events if event.type not in LIFECYCLE_TYPES)


def _tool_of(event: AgentEvent, by_id: dict[str, AgentEvent]) -> str | None:
    name = tool_name(event) if event.type is not EventType.ERROR else event.attributes.get(semconv.GEN_AI_TOOL_NAME)
    if isinstance(name, str) and name:
        return name
    parent = by_id.get(event.parent_id or "")
    if parent is not None and parent.type is EventType.TOOL_CALL:
        return tool_name(parent)
    return None


def _failure_message(event: AgentEvent) -> str:
    reported = event.attributes.get(semconv.ESCAI_ERROR_MESSAGE)
    if isinstance(reported, str) and reported.strip():
        return first_sentence(reported)
    if event.type is EventType.ERROR:
        # An error event leads with its message; a tool's output ends with it (tracebacks, test summaries).
        return first_sentence(event.content)
    return error_line(event.content)


def _failures(events: Sequence[AgentEvent], by_id: dict[str, AgentEvent]) -> list[Failure]:
    # Positions of successes per tool (and of any tool), to find "the first later success" by bisection.
    success_positions: dict[str | None, list[int]] = defaultdict(list)
    for position, event in enumerate(events):
        if _is_tool_success(event):
            success_positions[_tool_of(event, by_id)].append(position)
            success_positions[_ANY_TOOL].append(position)
    failures = []
    for position, event in enumerate(events):
        if not (is_tool_failure(event) or event.type is EventType.ERROR):
            continue
        tool = _tool_of(event, by_id)
        later = success_positions.get(_ANY_TOOL if tool is None else tool, [])
        index = bisect.bisect_right(later, position)
        recovery = events[later[index]] if index < len(later) else None
        failures.append(Failure(event, tool, _failure_message(event), exit_code(event), recovery))
    return failures


def _tools(events: Sequence[AgentEvent], by_id: dict[str, AgentEvent], failures: list[Failure]) -> list[ToolUsage]:
    calls: dict[str, list[AgentEvent]] = defaultdict(list)
    successes: dict[str, list[AgentEvent]] = defaultdict(list)
    for event in events:
        if event.type is EventType.TOOL_CALL:
            calls[tool_name(event) or "tool"].append(event)
        elif _is_tool_success(event):
            successes[_tool_of(event, by_id) or "tool"].append(event)
    failed: dict[str, list[Failure]] = defaultdict(list)
    for failure in failures:
        if failure.event.type is not EventType.ERROR:
            failed[failure.tool or "tool"].append(failure)
    names = list(dict.fromkeys([*calls, *successes, *failed]))
    usages = [ToolUsage(name, tuple(calls[name]), tuple(successes[name]), tuple(failed[name])) for name in names]
    return sorted(usages, key=lambda usage: -len(usage.calls))


def _signature(event: AgentEvent) -> tuple[str, str, str, str] | None:
    text = flatten(action_text(event))[:_SIGNATURE_LIMIT]
    if not text:
        return None
    return event.agent_id, event.type.value, tool_name(event) or "", text


def _repetitions(actions: Sequence[AgentEvent]) -> list[Repetition]:
    groups: dict[tuple[str, str, str, str], list[AgentEvent]] = defaultdict(list)
    back_to_back: Counter[tuple[str, str, str, str]] = Counter()
    previous: dict[str, tuple[str, str, str, str] | None] = {}
    for event in actions:
        signature = _signature(event)
        if signature is not None:
            groups[signature].append(event)
            if previous.get(event.agent_id) == signature:
                back_to_back[signature] += 1
        previous[event.agent_id] = signature
    repeated = [
        Repetition(signature[0], tuple(group), back_to_back[signature])
        for signature, group in groups.items()
        if len(group) > 1
    ]
    return sorted(repeated, key=lambda item: (-len(item.events), -item.back_to_back))


def read_facts(session: MonitoringSession, events: Iterable[AgentEvent]) -> SessionFacts:
    """The facts of ``session`` read from its events (events of other sessions are ignored)."""
    ordered = order_events(session.id, events)
    by_id = {event.id: event for event in ordered}
    task, task_events = _task(session, ordered)
    actions = [event for event in ordered if event.type in ACTION_TYPES and not is_participant(event)]
    per_agent: dict[str, list[AgentEvent]] = defaultdict(list)
    for event in actions:
        per_agent[event.agent_id].append(event)
    failures = _failures(ordered, by_id)
    activity = [event for event in ordered if event.type not in LIFECYCLE_TYPES]
    costs = [event.cost for event in ordered if event.cost is not None]
    return SessionFacts(
        session_id=session.id,
        events=tuple(ordered),
        task=task,
        task_events=tuple(task_events),
        step_count=_step_count(ordered),
        agents={agent: tuple(items) for agent, items in sorted(per_agent.items(), key=lambda item: -len(item[1]))},
        tools=tuple(_tools(ordered, by_id, failures)),
        tool_results=tuple(event for event in ordered if event.type is EventType.TOOL_RESULT),
        failures=tuple(failures),
        repetitions=tuple(_repetitions(actions)),
        end_event=next((event for event in reversed(ordered) if event.type is EventType.SESSION_END), None),
        final_event=activity[-1] if activity else None,
        tokens=sum((event.tokens_input or 0) + (event.tokens_output or 0) for event in ordered),
        cost=sum(costs) if costs else None,
    )
