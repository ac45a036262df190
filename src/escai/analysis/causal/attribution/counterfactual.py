"""Counterfactual step scoring: how much of the wrong answer would be gone had a step not happened.

For each candidate turn the method removes the turn's events and, transitively, every event that depended on
them through content (a restated value, a tool result, a recorded parent or hand-off: not mere sequence or
reply), then asks how much of the final answer's *support* (the answer and everything it transitively rests on)
is gone. A turn outside that support could be deleted without changing the answer, so it scores nothing; the
turn whose removal takes the most of the support with it is the most necessary cause of the answer. Removing
a step's own execution result goes with the step, since the result would not exist without the code.
"""

from __future__ import annotations

import networkx as nx

from escai.analysis.causal.attribution.base import StepScore
from escai.analysis.causal.attribution.blame import final_answer_turn
from escai.analysis.causal.attribution.view import SessionView
from escai.analysis.causal.dependency import build_dependency_graph

CONTENT_EDGES = frozenset({"uses_result", "tool_result_of", "parent", "handoff"})
"""Edge kinds along which removing an event removes what came of it."""


def content_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """The dependency graph restricted to content edges between events of steps (the task node is left out)."""
    kept = nx.DiGraph()
    kept.add_nodes_from(node for node, data in graph.nodes(data=True) if data["step_index"] is not None)
    kept.add_edges_from(
        (source, target)
        for source, target, data in graph.edges(data=True)
        if source in kept and target in kept and CONTENT_EDGES.intersection(data["kinds"])
    )
    return kept


class CounterfactualScorer:
    """Scores a turn by the share of the final answer's support that would disappear without it."""

    name = "counterfactual"

    def score_steps(self, view: SessionView) -> list[StepScore]:
        """One score per candidate turn: the support share its removal takes with it."""
        final = final_answer_turn(view)
        if final is None:
            return []
        graph = content_graph(build_dependency_graph(view.events))
        final_ids = [event_id for event_id in final.event_ids if event_id in graph]
        support: set[str] = set(final_ids)
        for event_id in final_ids:
            support |= nx.ancestors(graph, event_id)
        execution_of: dict[int, list[str]] = {}
        owner: int | None = None
        for turn in view.turns:
            if turn.is_execution and owner is not None:
                execution_of.setdefault(owner, []).extend(turn.event_ids)
            elif not turn.is_execution:
                owner = turn.step_index
        scores = []
        for turn in view.candidates:
            removed: set[str] = set()
            for event_id in (*turn.event_ids, *execution_of.get(turn.step_index, ())):
                if event_id in graph:
                    removed |= {event_id} | nx.descendants(graph, event_id)
            lost = removed & support
            share = len(lost) / len(support) if support else 0.0
            scores.append(
                StepScore(
                    step_index=turn.step_index,
                    agent_id=turn.agent_id,
                    score=share,
                    evidence_event_ids=tuple(sorted(lost & set(turn.event_ids))) + tuple(final_ids[:1]),
                    reason=f"without this step {share:.0%} of what the final answer (step {final.step_index}) rests on "
                    "would not exist",
                    details={"support_lost": share},
                )
            )
        return scores
