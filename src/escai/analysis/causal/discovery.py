"""Causal discovery across sessions: the PC algorithm over session features, with bootstrap confidence.

Each session becomes one row of features (:mod:`escai.analysis.causal.features`); causal-learn's PC algorithm
(stable variant) searches for the graph those rows are consistent with. Two kinds of prior knowledge are used,
both about time: the outcome is known only after the whole run, so nothing may point out of ``outcome``.

What a relationship says:

- ``method`` is ``pc`` for an edge PC oriented, and ``pc-undirected`` for an adjacency it could not orient (the
  data fit either direction); ``cause`` and ``effect`` of an undirected edge are only its two ends, in column order.
- ``strength`` is the partial correlation of the two variables (normal scores for Fisher-z, bin codes for
  chi-square) given the effect's other parents in the found graph: a standardised, signed effect size.
- ``confidence`` is bootstrap stability: the share of resamples (rows drawn with replacement) whose PC graph has
  the same edge as claimed: the same orientation for an oriented edge, the adjacency in any orientation for an
  undirected one.

This is observational data: a hidden common cause of two features (the task's difficulty, say) shows up as an
edge between them, and PC's orientations hold only if there are no hidden confounders.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from causallearn.graph.GraphNode import GraphNode  # type: ignore[import-untyped, unused-ignore]
from causallearn.search.ConstraintBased.PC import pc  # type: ignore[import-untyped, unused-ignore]
from causallearn.utils.PCUtils.BackgroundKnowledge import (  # type: ignore[import-untyped, unused-ignore]
    BackgroundKnowledge,
)
from numpy.typing import NDArray
from scipy.stats import norm, rankdata

from escai.analysis.causal.features import OUTCOME, SESSION_FEATURES, extract_session_features
from escai.model.events import AgentEvent
from escai.model.records import CausalRelationship

PC_METHOD = "pc"
"""Method name of an edge PC oriented."""
PC_UNDIRECTED_METHOD = "pc-undirected"
"""Method name of an adjacency PC left unoriented."""

IndependenceTest = Literal["fisherz", "chisq"]
Matrix = NDArray[np.float64]
Edge = tuple[int, int, bool]
"""(cause column, effect column, directed); an undirected edge has cause < effect."""

_CHISQ_BINS = 3


@dataclass(frozen=True, slots=True)
class FeatureTable:
    """Session features as a matrix: one row per session, one column per feature."""

    columns: tuple[str, ...]
    session_ids: tuple[str, ...]
    values: Matrix


@dataclass(frozen=True, slots=True)
class PcSettings:
    """How to run PC: significance level, independence test, bootstrap resamples and seed."""

    alpha: float = 0.05
    test: IndependenceTest = "fisherz"
    resamples: int = 100
    seed: int = 0
    outcome_is_sink: bool = True
    """Forbid edges out of the outcome column (it is measured after everything else)."""


@dataclass(frozen=True, slots=True)
class PcResult:
    """What one PC discovery found, and on what."""

    relationships: list[CausalRelationship]
    columns: tuple[str, ...]
    """The columns searched over."""
    dropped_columns: tuple[str, ...]
    """Columns left out because they were constant (nothing to learn from them)."""
    sessions: int
    resamples: int
    failed_resamples: int
    """Resamples on which PC could not run (a column constant in that resample); not counted in confidences."""
    adjacency_frequency: dict[tuple[str, str], float] = field(default_factory=dict)
    """For each pair of columns (in column order) the share of resamples in which they are adjacent."""
    seconds: float = 0.0


def build_feature_table(sessions: Iterable[tuple[str, Sequence[AgentEvent], bool | None]]) -> FeatureTable:
    """Tabulate (session id, events, outcome or None) triples; sessions with no known outcome get no outcome.

    The outcome column is kept only when every session has a known outcome; otherwise rows without one would have
    to be invented, so the column is left out.
    """
    rows: list[dict[str, float]] = []
    session_ids: list[str] = []
    for session_id, events, outcome in sessions:
        rows.append(extract_session_features(events, outcome))
        session_ids.append(session_id)
    columns = list(SESSION_FEATURES)
    if rows and all(OUTCOME in row for row in rows):
        columns.append(OUTCOME)
    values = np.array([[row[column] for column in columns] for row in rows], dtype=np.float64)
    return FeatureTable(tuple(columns), tuple(session_ids), values.reshape(len(rows), len(columns)))


def normal_scores(column: Matrix) -> Matrix:
    """Rank-based normal scores of a column (ties averaged): Fisher-z then tests monotone, not only linear, links."""
    ranks = rankdata(column)
    scores: Matrix = norm.ppf(ranks / (len(column) + 1))
    return scores


def _quantile_bins(column: Matrix) -> Matrix:
    edges = np.unique(np.quantile(column, np.linspace(0, 1, _CHISQ_BINS + 1)[1:-1]))
    binned: Matrix = np.searchsorted(edges, column, side="right").astype(np.float64)
    return binned


def _prepare(values: Matrix, test: IndependenceTest) -> Matrix:
    transform = normal_scores if test == "fisherz" else _quantile_bins
    return np.column_stack([transform(values[:, index]) for index in range(values.shape[1])])


def _background(columns: Sequence[str]) -> BackgroundKnowledge | None:
    if OUTCOME not in columns:
        return None
    nodes = [GraphNode(name) for name in columns]
    knowledge = BackgroundKnowledge()
    outcome = nodes[columns.index(OUTCOME)]
    for node in nodes:
        if node is not outcome:
            knowledge.add_forbidden_by_node(outcome, node)
    return knowledge


def _run_pc(data: Matrix, columns: Sequence[str], settings: PcSettings) -> set[Edge]:
    """The edges of PC's graph on ``data``; raises when a test cannot run (a singular correlation matrix)."""
    knowledge = _background(columns) if settings.outcome_is_sink else None
    found = pc(
        data,
        settings.alpha,
        settings.test,
        stable=True,
        uc_rule=0,
        uc_priority=2,
        background_knowledge=knowledge,
        show_progress=False,
        node_names=list(columns),
    )
    graph: NDArray[np.int_] = found.G.graph
    edges: set[Edge] = set()
    size = len(columns)
    for first in range(size):
        for second in range(first + 1, size):
            # causal-learn's encoding: graph[j, i] == 1 and graph[i, j] == -1 means i -> j; -1/-1 is i - j;
            # 1/1 (conflicting orientations) is reported as undirected too, since no direction is supported.
            mark_at_second, mark_at_first = graph[first, second], graph[second, first]
            if mark_at_second == 0 and mark_at_first == 0:
                continue
            if mark_at_second == -1 and mark_at_first == 1:
                edges.add((first, second, True))
            elif mark_at_second == 1 and mark_at_first == -1:
                edges.add((second, first, True))
            else:
                edges.add((first, second, False))
    return edges


def partial_correlation(data: Matrix, first: int, second: int, given: Sequence[int]) -> float:
    """Partial correlation of two columns of ``data`` given other columns (from the inverse correlation matrix)."""
    indices = [first, second, *given]
    correlation = np.corrcoef(data[:, indices], rowvar=False)
    precision = np.linalg.pinv(np.atleast_2d(correlation))
    value = -precision[0, 1] / np.sqrt(precision[0, 0] * precision[1, 1])
    return float(np.clip(value, -1.0, 1.0))


def _strength(data: Matrix, edge: Edge, edges: set[Edge]) -> float:
    cause, effect, directed = edge
    ends = {effect} if directed else {cause, effect}
    parents = sorted({other for other, target, oriented in edges if oriented and target in ends} - {cause, effect})
    return partial_correlation(data, cause, effect, parents)


def _reappears(edge: Edge, found: set[Edge]) -> bool:
    cause, effect, directed = edge
    if directed:
        return edge in found
    return any({other_cause, other_effect} == {cause, effect} for other_cause, other_effect, _ in found)


def discover_pc(table: FeatureTable, settings: PcSettings | None = None) -> PcResult:
    """Run PC over the table's sessions and turn its graph into relationships with strength and confidence."""
    settings = settings or PcSettings()
    started = time.perf_counter()
    keep = [index for index in range(table.values.shape[1]) if np.unique(table.values[:, index]).size > 1]
    columns = tuple(table.columns[index] for index in keep)
    dropped = tuple(name for index, name in enumerate(table.columns) if index not in keep)
    if len(columns) < 2 or table.values.shape[0] < 4:
        return PcResult([], columns, dropped, table.values.shape[0], 0, 0, {}, time.perf_counter() - started)
    data = _prepare(table.values[:, keep], settings.test)
    edges = _run_pc(data, columns, settings)
    rng = np.random.default_rng(settings.seed)
    sample_graphs: list[set[Edge]] = []
    failed = 0
    for _ in range(settings.resamples):
        rows = rng.integers(0, data.shape[0], data.shape[0])
        sample = data[rows]
        if any(np.unique(sample[:, index]).size < 2 for index in range(sample.shape[1])):
            failed += 1
            continue
        try:
            sample_graphs.append(_run_pc(sample, columns, settings))
        except (ValueError, np.linalg.LinAlgError):
            failed += 1
    relationships = [
        CausalRelationship(
            cause=columns[edge[0]],
            effect=columns[edge[1]],
            strength=round(_strength(data, edge, edges), 4),
            confidence=_stability(edge, sample_graphs),
            method=PC_METHOD if edge[2] else PC_UNDIRECTED_METHOD,
            lag=0,
        )
        for edge in sorted(edges)
    ]
    relationships.sort(key=lambda found: (-found.confidence, -abs(found.strength), found.cause, found.effect))
    adjacency = {
        (columns[first], columns[second]): _stability((first, second, False), sample_graphs)
        for first in range(len(columns))
        for second in range(first + 1, len(columns))
    }
    seconds = time.perf_counter() - started
    return PcResult(relationships, columns, dropped, data.shape[0], len(sample_graphs), failed, adjacency, seconds)


def _stability(edge: Edge, sample_graphs: Sequence[set[Edge]]) -> float:
    if not sample_graphs:
        return 0.0
    return round(sum(_reappears(edge, found) for found in sample_graphs) / len(sample_graphs), 4)


def discover_from_sessions(
    sessions: Mapping[str, Sequence[AgentEvent]],
    outcomes: Mapping[str, bool | None] | None = None,
    settings: PcSettings | None = None,
) -> PcResult:
    """Tabulate sessions (id -> events, outcomes from ``outcomes`` or the traces) and run :func:`discover_pc`."""
    known = outcomes or {}
    table = build_feature_table(
        (session_id, events, known.get(session_id)) for session_id, events in sorted(sessions.items())
    )
    return discover_pc(table, settings)
