"""The event dependency graph: edge kinds, value reuse, hand-offs and temporal precedence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import networkx as nx

from escai.analysis.causal.dependency import EDGE_KINDS, build_dependency_graph
from escai.ingest.importers.who_and_when import convert
from escai.model import semconv
from escai.model.events import AgentEvent, EventType

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _event(event_id: str, seconds: int, agent: str = "a", **fields: object) -> AgentEvent:
    values: dict[str, object] = {"type": EventType.MESSAGE, "step_index": seconds}
    values.update(fields)
    return AgentEvent(id=event_id, session_id="s", agent_id=agent, timestamp=T0 + timedelta(seconds=seconds), **values)  # type: ignore[arg-type]


def _record() -> dict[str, object]:
    return {
        "question_ID": "q",
        "question": "How many items are there?",
        "history": [
            {"name": "Planner", "role": "assistant", "content": "Plan: count the items."},
            {"name": "Coder", "role": "user", "content": "Counting:\n```python\nprint(41 + 1)\n```"},
            {
                "name": "Computer_terminal",
                "role": "user",
                "content": "exitcode: 0 (execution succeeded)\nCode output: 42",
            },
            {"name": "Checker", "role": "user", "content": "The count is 42. TERMINATE"},
        ],
        "mistake_agent": "Coder",
        "mistake_step": "1",
    }


def test_graph_links_tool_call_result_and_value_reuse() -> None:
    """A code call links to its result, and the message restating the result's value uses it."""
    events = convert(_record(), "item 0").events
    graph = build_dependency_graph(events)
    by_step = {(data["step_index"], data["type"]): node for node, data in graph.nodes(data=True)}
    call, result = by_step[(1, "tool_call")], by_step[(2, "tool_result")]
    answer = by_step[(3, "message")]
    assert graph.edges[call, result]["kind"] == "tool_result_of"
    assert graph.edges[result, answer]["kind"] == "uses_result"
    assert graph.edges[result, answer]["values"] == ["42"]
    assert {data["kind"] for *_, data in graph.edges(data=True)} <= set(EDGE_KINDS)


def test_every_edge_goes_forward_in_time_and_graph_is_acyclic() -> None:
    """Edges only go from an earlier to a later event, so the graph is a DAG."""
    graph = build_dependency_graph(convert(_record(), "item 0").events)
    assert nx.is_directed_acyclic_graph(graph)
    assert all(graph.nodes[source]["order"] < graph.nodes[target]["order"] for source, target in graph.edges)


def test_parent_link_pointing_back_in_time_is_dropped_and_counted() -> None:
    """A recorded parent that is later than its child is dropped, not turned into a backward edge."""
    child = _event("child", 1, parent_id="parent")
    parent = _event("parent", 2)
    graph = build_dependency_graph([child, parent])
    assert not graph.has_edge("parent", "child")
    assert graph.graph["dropped_edges"] == 1


def test_handoff_links_to_the_target_agents_next_event() -> None:
    """A hand-off links to the first later event of the agent it hands to, skipping other agents."""
    handoff = _event(
        "h", 0, agent="orchestrator", type=EventType.HANDOFF, attributes={semconv.ESCAI_HANDOFF_TARGET: "web"}
    )
    other = _event("o", 1, agent="coder")
    target = _event("w", 2, agent="web")
    graph = build_dependency_graph([handoff, other, target])
    assert graph.edges["h", "w"]["kind"] == "handoff"
    assert graph.edges["h", "o"]["kind"] == "answers"


def test_labels_on_events_do_not_reach_the_graph() -> None:
    """The imported ground truth on session_start is stripped before the graph is built."""
    events = convert(_record(), "item 0").events
    assert any(semconv.ESCAI_ANNOTATIONS in event.attributes for event in events)
    graph = build_dependency_graph(events)
    assert all("Coder" not in str(data) or data["agent_id"] == "Coder" for _, data in graph.nodes(data=True))
    start = next(node for node, data in graph.nodes(data=True) if data["type"] == "session_start")
    assert "annotations" not in str(graph.nodes[start])
