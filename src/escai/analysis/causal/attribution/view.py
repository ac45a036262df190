"""A failed session seen as a sequence of turns: what every attribution method reads.

A *turn* is everything that happened at one step (``step_index``): the speaking agent's message, thought or
hand-off, the code it asked to run, and the executor's result. Attribution ranks turns, since a label such as
Who&When's ``mistake_step`` names one step and the agent who spoke it.

The view is built from events only, and :func:`strip_labels` removes every ground-truth annotation an importer
may have left on them (``escai.annotations`` on the session_start event, the recorded outcome on session_end),
so no method can read the answer it is judged against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from escai.analysis.causal.dependency import strip_labels
from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType

_SPEAKING_TYPES = frozenset(
    {
        EventType.MESSAGE,
        EventType.THOUGHT,
        EventType.PLAN,
        EventType.DECISION,
        EventType.HANDOFF,
        EventType.LLM_RESPONSE,
        EventType.OBSERVATION,
        EventType.ERROR,
        EventType.CUSTOM,
    }
)
_RESULT_TYPES = frozenset({EventType.TOOL_RESULT})
_FRAME_TYPES = frozenset({EventType.SESSION_START, EventType.SESSION_END, EventType.AGENT_START, EventType.AGENT_END})


@dataclass(frozen=True, slots=True)
class Turn:
    """One step of a session: who acted, what they wrote, and how the code they ran (if any) ended."""

    step_index: int
    agent_id: str
    text: str
    event_ids: tuple[str, ...]
    """Every event of the step, the primary one first."""
    is_execution: bool
    """The step is only a tool or executor result (nobody decided anything in it)."""
    kind: EventType
    code: str
    """Code or tool arguments the turn asked to run, joined."""
    result_status: EventStatus | None = None
    """Status of the result that answered this turn's tool call, or of the execution step's own result."""
    result_text: str = ""

    @property
    def primary_event_id(self) -> str:
        """The event that stands for the turn (the message, or the tool result of an execution step)."""
        return self.event_ids[0]


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session's task and turns in step order; built by :func:`build_session_view`."""

    session_id: str
    task: str
    turns: tuple[Turn, ...]
    events: tuple[AgentEvent, ...] = ()
    """The session's events with labels stripped (for methods that build the dependency graph)."""

    @property
    def candidates(self) -> tuple[Turn, ...]:
        """Turns that can be blamed: those where an agent spoke or acted, not bare execution results."""
        speaking = tuple(turn for turn in self.turns if not turn.is_execution)
        return speaking or self.turns

    def turn_at(self, step_index: int) -> Turn | None:
        """The turn of a step, or None."""
        for turn in self.turns:
            if turn.step_index == step_index:
                return turn
        return None


def _step_groups(events: Sequence[AgentEvent]) -> list[tuple[int, list[AgentEvent]]]:
    """Events grouped by step; events without a step index start a new step each (other frameworks)."""
    indexed = any(event.step_index is not None for event in events)
    groups: dict[int, list[AgentEvent]] = {}
    by_id = {event.id: event for event in events}
    next_step = 0
    for event in events:
        if event.type in _FRAME_TYPES:
            continue
        if indexed:
            step = event.step_index
            if step is None:
                # A child without a step belongs to its parent's step; an orphan is left out.
                parent = by_id.get(event.parent_id or "")
                step = parent.step_index if parent is not None else None
            if step is None:
                continue
        else:
            parent = by_id.get(event.parent_id or "")
            attach = parent is not None and parent.type not in _FRAME_TYPES and event.type is EventType.TOOL_CALL
            step = next_step - 1 if attach and next_step > 0 else next_step
            next_step = step + 1
        groups.setdefault(step, []).append(event)
    return [(step, groups[step]) for step in sorted(groups)]


def _turn(step: int, group: list[AgentEvent], call_status: dict[str, tuple[EventStatus, str]]) -> Turn:
    speaking = [event for event in group if event.type in _SPEAKING_TYPES]
    results = [event for event in group if event.type in _RESULT_TYPES]
    calls = [event for event in group if event.type is EventType.TOOL_CALL]
    primary = speaking[0] if speaking else calls[0] if calls else results[0] if results else group[0]
    ordered = [primary, *(event for event in group if event is not primary)]
    text = "\n".join(event.content or "" for event in speaking) if speaking else primary.content or ""
    status = None
    result_text = ""
    for call in calls:
        if call.id in call_status:
            status, result_text = call_status[call.id]
    if not speaking and not calls and results:
        status, result_text = results[0].status, results[0].content or ""
    return Turn(
        step_index=step,
        agent_id=primary.agent_id,
        text=text,
        event_ids=tuple(event.id for event in ordered),
        is_execution=not speaking and not calls and bool(results),
        kind=primary.type,
        code="\n".join(call.content or "" for call in calls),
        result_status=status,
        result_text=result_text,
    )


def build_session_view(events: Sequence[AgentEvent]) -> SessionView:
    """Turns of the session in step order (labels stripped first), with each tool call's result status."""
    clean = strip_labels(events)
    call_status: dict[str, tuple[EventStatus, str]] = {}
    for event in clean:
        if event.type is EventType.TOOL_RESULT and event.parent_id is not None:
            call_status[event.parent_id] = (event.status, event.content or "")
    task = ""
    for event in clean:
        if event.type is EventType.SESSION_START:
            task = str(event.attributes.get(semconv.ESCAI_TASK) or event.content or "")
            break
    turns = tuple(_turn(step, group, call_status) for step, group in _step_groups(clean))
    session_id = clean[0].session_id if clean else ""
    return SessionView(session_id=session_id, task=task, turns=turns, events=tuple(clean))
