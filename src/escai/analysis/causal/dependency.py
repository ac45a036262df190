"""The event dependency graph of one session: which event depended on which, with time always flowing forward.

Nodes are event ids; each node carries ``type``, ``agent_id``, ``step_index``, ``timestamp`` and ``order`` (its
rank in time: timestamp, then the order the events were given in). Edges carry a ``kind``:

- ``parent``: the event's recorded parent (span or message tree);
- ``tool_result_of``: a tool call and the result that answered it (a parent link between the two, made specific);
- ``uses_result``: a later event restates a distinctive value (a number, a quoted string) that an earlier event
  stated first: the value's source and the event that used it, with the shared ``values``;
- ``answers``: a message and the next message of a different agent (a reply in a conversation);
- ``handoff``: a hand-off and the next event of the agent it handed to;
- ``next_turn``: the first event of a step and the first event of the next step (plain sequence).

When two events are linked for several reasons the edge keeps the most specific ``kind`` and lists all in
``kinds``. Every edge goes from a lower ``order`` to a higher one, so the graph is acyclic and a path is a
possible chain of influence; a recorded link that would point back in time (clock skew between producers) is
dropped and counted in ``graph.graph["dropped_edges"]``.

Ground truth never enters the graph: :func:`strip_labels` removes the attributes that may carry it (imported
annotations, a recorded outcome) first. :func:`extract_values` defines the distinctive values that ``uses_result``
follows: numbers of two or more digits (thousands separators removed) and short quoted, back-quoted or bold
strings; one-digit numbers and plain words recur by chance and would link every step to every other.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence

import networkx as nx

from escai.model import semconv
from escai.model.events import AgentEvent, EventType

LABEL_ATTRIBUTES = frozenset({semconv.ESCAI_ANNOTATIONS, semconv.ESCAI_OUTCOME_SUCCESS, semconv.ESCAI_OUTCOME_SCORE})
"""Event attributes that may carry ground truth: removed before any method sees the events."""

_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])")
_QUOTED = re.compile(r"\*\*([^*\n]{2,60})\*\*|\"([^\"\n]{2,60})\"|`([^`\n]{2,60})`")


def extract_values(text: str) -> set[str]:
    """Distinctive values stated in a text: numbers (commas removed, two or more digits) and quoted strings."""
    values = set()
    for match in _NUMBER.finditer(text):
        number = match.group(0).replace(",", "").rstrip(".")
        if sum(character.isdigit() for character in number) >= 2:
            values.add(number)
    for match in _QUOTED.finditer(text):
        quoted = next(group for group in match.groups() if group)
        values.add(quoted.strip().lower())
    return values


def strip_labels(events: Iterable[AgentEvent]) -> list[AgentEvent]:
    """The events without any attribute that could carry a label (imported ground truth, recorded outcome)."""
    cleaned = []
    for event in events:
        if LABEL_ATTRIBUTES.isdisjoint(event.attributes):
            cleaned.append(event)
            continue
        kept = {key: value for key, value in event.attributes.items() if key not in LABEL_ATTRIBUTES}
        cleaned.append(event.model_copy(update={"attributes": kept}))
    return cleaned


EDGE_KINDS = ("tool_result_of", "handoff", "uses_result", "answers", "parent", "next_turn")
"""Edge kinds, most specific first (the order that decides ``kind`` when several apply)."""

_CONVERSATION_TYPES = frozenset({EventType.MESSAGE, EventType.HANDOFF, EventType.LLM_RESPONSE, EventType.THOUGHT})
_FRAME_TYPES = frozenset({EventType.SESSION_START, EventType.SESSION_END})


def _add_edge(graph: nx.DiGraph, source: str, target: str, kind: str, **attributes: object) -> None:
    if source == target or source not in graph or target not in graph:
        return
    if graph.nodes[source]["order"] >= graph.nodes[target]["order"]:
        graph.graph["dropped_edges"] += 1
        return
    if graph.has_edge(source, target):
        data = graph.edges[source, target]
        kinds = sorted({*data["kinds"], kind}, key=EDGE_KINDS.index)
        data.update(attributes)
        data["kinds"] = kinds
        data["kind"] = kinds[0]
        return
    graph.add_edge(source, target, kind=kind, kinds=[kind], **attributes)


def _add_value_edges(graph: nx.DiGraph, ordered: Sequence[AgentEvent]) -> None:
    origin: dict[str, str] = {}
    for event in ordered:
        if event.type in _FRAME_TYPES:
            # Values of the task are given, not produced by any step: they are no one's result.
            for value in extract_values(event.content or ""):
                origin.setdefault(value, "")
            continue
        values = extract_values(event.content or "")
        shared: dict[str, list[str]] = {}
        for value in values:
            source = origin.setdefault(value, event.id)
            if source and source != event.id:
                shared.setdefault(source, []).append(value)
        for source, used in shared.items():
            _add_edge(graph, source, event.id, "uses_result", values=sorted(used))


def _add_conversation_edges(graph: nx.DiGraph, ordered: Sequence[AgentEvent]) -> None:
    previous: AgentEvent | None = None
    pending_handoffs: list[AgentEvent] = []
    for event in ordered:
        if event.type in _FRAME_TYPES:
            continue
        for handoff in list(pending_handoffs):
            target = str(handoff.attributes.get(semconv.ESCAI_HANDOFF_TARGET) or "")
            reached = event.agent_id == target or event.agent_name == target
            if reached or (not target and event.agent_id != handoff.agent_id):
                _add_edge(graph, handoff.id, event.id, "handoff")
                pending_handoffs.remove(handoff)
        if event.type not in _CONVERSATION_TYPES:
            continue
        if previous is not None and previous.agent_id != event.agent_id:
            _add_edge(graph, previous.id, event.id, "answers")
        previous = event
        if event.type is EventType.HANDOFF:
            pending_handoffs.append(event)


def _add_sequence_edges(graph: nx.DiGraph, ordered: Sequence[AgentEvent]) -> None:
    heads: list[AgentEvent] = []
    seen_steps: set[int] = set()
    for event in ordered:
        if event.type in _FRAME_TYPES:
            continue
        if event.step_index is None:
            if event.parent_id is None or event.parent_id not in graph or event.type is not EventType.TOOL_CALL:
                heads.append(event)
        elif event.step_index not in seen_steps:
            seen_steps.add(event.step_index)
            heads.append(event)
    for earlier, later in itertools.pairwise(heads):
        _add_edge(graph, earlier.id, later.id, "next_turn")


def build_dependency_graph(events: Sequence[AgentEvent]) -> nx.DiGraph:
    """The dependency graph of one session's events (see the module docstring for nodes and edge kinds)."""
    clean = strip_labels(events)
    ordered = [event for _, event in sorted(enumerate(clean), key=lambda pair: (pair[1].timestamp, pair[0]))]
    graph = nx.DiGraph(dropped_edges=0)
    for rank, event in enumerate(ordered):
        graph.add_node(
            event.id,
            type=event.type.value,
            agent_id=event.agent_id,
            step_index=event.step_index,
            timestamp=event.timestamp,
            order=rank,
            status=event.status.value,
        )
    by_id = {event.id: event for event in ordered}
    for event in ordered:
        parent = by_id.get(event.parent_id or "")
        if parent is None:
            continue
        linked_call = parent.type is EventType.TOOL_CALL and event.type is EventType.TOOL_RESULT
        _add_edge(graph, parent.id, event.id, "tool_result_of" if linked_call else "parent")
    _add_value_edges(graph, ordered)
    _add_conversation_edges(graph, ordered)
    _add_sequence_edges(graph, ordered)
    return graph
