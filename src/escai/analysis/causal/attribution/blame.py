"""Dependency-graph blame propagation: the failure's blame flows back from the final answer to where it began.

The wrong final answer holds all the blame at first. Walking the dependency graph backwards (newest event first,
which the graph's temporal order makes a single pass), each event keeps a share of the blame it received and
passes the rest to the events it depended on, in proportion to how strong the dependency is: restating a value
or reading a tool result (``uses_result``, ``tool_result_of``) binds more than replying (``answers``) or merely
coming next (``next_turn``). An event keeps more when it *originated* something (stated new values, ran code),
and all of it when it depends on nothing earlier. A turn's score is the blame its events kept: the origin of the
chain that produced the wrong answer.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx

from escai.analysis.causal.attribution.base import StepScore
from escai.analysis.causal.attribution.view import SessionView, Turn
from escai.analysis.causal.dependency import build_dependency_graph, extract_values
from escai.model.events import EventType

EDGE_WEIGHTS: dict[str, float] = {
    "uses_result": 1.0,
    "tool_result_of": 1.0,
    "parent": 0.5,
    "handoff": 0.5,
    "answers": 0.3,
    "next_turn": 0.1,
}
"""How much blame an edge of each kind carries back (relative; normalised over an event's dependencies)."""
KEEP_ORIGIN = 0.6
"""Share of received blame an event keeps when it originated something (new values, code)."""
KEEP_PLAIN = 0.1
"""Share an event keeps when it only passed on what it received."""


def final_answer_turn(view: SessionView) -> Turn | None:
    """The turn that gave the run's answer: the last candidate turn that states a value, else the last one."""
    for turn in reversed(view.candidates):
        if extract_values(turn.text):
            return turn
    return view.candidates[-1] if view.candidates else None


def find_originators(view: SessionView) -> set[str]:
    """Events that originated something: a tool call, or the first statement of a value (the task's excluded)."""
    seen = extract_values(view.task)
    originators = set()
    for event in view.events:
        if event.type is EventType.TOOL_CALL:
            originators.add(event.id)
        values = extract_values(event.content or "")
        if values - seen and event.type not in (EventType.SESSION_START, EventType.SESSION_END):
            originators.add(event.id)
        seen |= values
    return originators


def propagate_blame(graph: nx.DiGraph, failure_nodes: list[str], originators: set[str]) -> dict[str, float]:
    """Blame each event keeps when a unit of blame, spread over ``failure_nodes``, flows back along dependencies."""
    received: dict[str, float] = defaultdict(float)
    for node in failure_nodes:
        received[node] += 1.0 / len(failure_nodes)
    kept: dict[str, float] = {}
    for node in sorted(graph.nodes, key=lambda key: graph.nodes[key]["order"], reverse=True):
        mass = received.get(node, 0.0)
        if mass <= 0:
            continue
        sources = [(source, EDGE_WEIGHTS.get(data["kind"], 0.0)) for source, _, data in graph.in_edges(node, data=True)]
        # The task (session_start) is nobody's step: blame does not flow into it.
        sources = [
            (source, weight)
            for source, weight in sources
            if weight > 0 and graph.nodes[source]["step_index"] is not None
        ]
        if not sources:
            kept[node] = kept.get(node, 0.0) + mass
            continue
        # The failure node is the symptom: it passes its blame on whole when it rests on anything earlier.
        keep = 0.0 if node in failure_nodes else KEEP_ORIGIN if node in originators else KEEP_PLAIN
        kept[node] = kept.get(node, 0.0) + mass * keep
        total = sum(weight for _, weight in sources)
        for source, weight in sources:
            received[source] += mass * (1.0 - keep) * weight / total
    return kept


class BlamePropagation:
    """Scores turns by the blame they keep when it flows back from the final answer through the dependency graph."""

    name = "blame"

    def score_steps(self, view: SessionView) -> list[StepScore]:
        """One score per candidate turn; an execution result's blame goes to the turn whose code it ran."""
        graph = build_dependency_graph(view.events)
        final = final_answer_turn(view)
        if final is None:
            return []
        kept = propagate_blame(graph, [final.primary_event_id], find_originators(view))
        step_of_owner: dict[int, int] = {}
        owner: int | None = None
        for turn in view.turns:
            if not turn.is_execution:
                owner = turn.step_index
            step_of_owner[turn.step_index] = owner if owner is not None else turn.step_index
        per_step: dict[int, float] = defaultdict(float)
        top_event: dict[int, tuple[float, str]] = {}
        for node, mass in kept.items():
            step = graph.nodes[node]["step_index"]
            if step is None:
                continue
            owner_step = step_of_owner.get(step, step)
            per_step[owner_step] += mass
            if mass > top_event.get(owner_step, (0.0, ""))[0]:
                top_event[owner_step] = (mass, node)
        scores = []
        for turn in view.candidates:
            share = per_step.get(turn.step_index, 0.0)
            evidence = [top_event[turn.step_index][1]] if turn.step_index in top_event else []
            evidence += [final.primary_event_id] if final.primary_event_id not in evidence else []
            scores.append(
                StepScore(
                    step_index=turn.step_index,
                    agent_id=turn.agent_id,
                    score=share,
                    evidence_event_ids=tuple(evidence),
                    reason=f"keeps {share:.0%} of the blame traced back from the final answer "
                    f"(step {final.step_index})",
                    details={"blame": share},
                )
            )
        return scores
