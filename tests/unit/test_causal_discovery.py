"""Causal discovery: PC on planted structures, pooled Granger on planted lags, features, export escaping, real data."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

from escai.analysis.causal.discovery import (
    PC_METHOD,
    PC_UNDIRECTED_METHOD,
    FeatureTable,
    PcSettings,
    discover_from_sessions,
    discover_pc,
)
from escai.analysis.causal.export import (
    cypher_name,
    cypher_string,
    graph_to_json,
    relationships_to_graph,
    to_cypher,
    to_graphml,
)
from escai.analysis.causal.features import (
    EDITS_BEFORE_TEST,
    OUTCOME,
    REPEATED_ACTIONS,
    TOOL_ERRORS,
    extract_actions,
    extract_session_features,
    outcomes_from_annotations,
)
from escai.analysis.causal.granger import GRANGER_METHOD, GrangerSettings, granger_from_sessions, granger_panel
from escai.ingest.importers import ImportedRun, read_runs
from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import CausalRelationship

DATASETS = Path(os.environ.get("ESCAI_DATASETS", Path(__file__).resolve().parents[2].parent / "shared" / "datasets"))
SWE_BENCH = DATASETS / "mini_swe_agent_swebench_verified" / "trajectories.jsonl.gz"
TAU_BENCH = DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz"


def table(columns: dict[str, np.ndarray]) -> FeatureTable:
    """A feature table from named columns."""
    values = np.column_stack(list(columns.values()))
    return FeatureTable(tuple(columns), tuple(f"s{index}" for index in range(len(values))), values)


def edges_of(found: Sequence[CausalRelationship]) -> dict[frozenset[str], CausalRelationship]:
    """Relationships keyed by their unordered pair of ends."""
    return {frozenset({item.cause, item.effect}): item for item in found}


def test_pc_leaves_a_planted_chain_unoriented_and_without_the_shortcut() -> None:
    """x -> y -> z is Markov-equivalent to its reversals: PC finds x - y - z, no x - z, and orients nothing."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    y = x + rng.normal(size=400)
    z = y + rng.normal(size=400)
    result = discover_pc(table({"x": x, "y": y, "z": z}), PcSettings(resamples=30, seed=1))
    found = edges_of(result.relationships)
    assert set(found) == {frozenset({"x", "y"}), frozenset({"y", "z"})}
    assert all(item.method == PC_UNDIRECTED_METHOD for item in found.values())
    assert all(item.confidence >= 0.8 and item.strength > 0.3 for item in found.values())
    assert result.adjacency_frequency[("x", "z")] < 0.3


def test_pc_orients_a_planted_collider_and_signs_its_strengths() -> None:
    """x -> z <- y with x, y independent is oriented by PC, and a negative effect gets a negative strength."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=400)
    y = rng.normal(size=400)
    z = x - y + rng.normal(size=400) * 0.7
    result = discover_pc(table({"x": x, "y": y, "z": z}), PcSettings(resamples=30, seed=1))
    found = {(item.cause, item.effect): item for item in result.relationships}
    assert set(found) == {("x", "z"), ("y", "z")}
    assert all(item.method == PC_METHOD for item in found.values())
    assert found[("x", "z")].strength > 0.3 and found[("y", "z")].strength < -0.3
    # This sample's x and y are borderline correlated (p = 0.06), so some resamples join them and so lose the
    # collider: the confidence says so rather than hiding it, and never exceeds the pair's adjacency frequency.
    assert all(item.confidence >= 0.5 for item in found.values())
    assert found[("x", "z")].confidence <= result.adjacency_frequency[("x", "z")] == 1.0


def test_pc_never_points_out_of_the_outcome() -> None:
    """An edge between a feature and the outcome is oriented into the outcome, which is measured last."""
    rng = np.random.default_rng(5)
    errors = rng.normal(size=300)
    outcome = (errors + rng.normal(size=300) * 0.8 < 0).astype(float)
    other = rng.normal(size=300)
    result = discover_pc(table({"errors": errors, "other": other, OUTCOME: outcome}), PcSettings(resamples=20))
    assert [(item.cause, item.effect, item.method) for item in result.relationships] == [("errors", OUTCOME, PC_METHOD)]
    assert result.relationships[0].strength < 0


def test_pc_drops_constant_columns_and_chisq_runs_on_binned_data() -> None:
    """A constant column is reported as dropped; the chi-square test finds a planted dependence on binned data."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=500)
    y = x + rng.normal(size=500) * 0.5
    result = discover_pc(table({"x": x, "y": y, "flat": np.zeros(500)}), PcSettings(test="chisq", resamples=10, seed=2))
    assert result.dropped_columns == ("flat",)
    assert set(edges_of(result.relationships)) == {frozenset({"x", "y"})}


def test_granger_finds_a_planted_lag_one_effect_and_not_its_reverse() -> None:
    """x at step t-1 drives y at step t in every session: x -> y at lag 1 is found, y -> x is not."""
    rng = np.random.default_rng(7)
    panel = {}
    for session in range(120):
        length = int(rng.integers(8, 30))
        cause = (rng.random(length) < 0.3).astype(float)
        effect = rng.normal(0, 0.5, length)
        effect[1:] += 0.8 * cause[:-1]
        panel[f"s{session}"] = {"x": cause, "y": effect}
    result = granger_panel(panel, GrangerSettings(max_lag=3))
    assert [(item.cause, item.effect, item.lag) for item in result.relationships] == [("x", "y", 1)]
    found = result.relationships[0]
    assert found.method == GRANGER_METHOD and found.strength > 0.3 and found.confidence > 0.99
    reverse = next(test for test in result.tests if test.cause == "y")
    assert reverse.q_value > 0.05


def test_granger_session_fixed_effects_absorb_a_shared_session_level() -> None:
    """Sessions high in both x and y (a session-level confounder) without any lagged link give no relationship."""
    rng = np.random.default_rng(8)
    panel = {}
    for session in range(150):
        level = rng.normal(0, 2)
        length = int(rng.integers(8, 25))
        panel[f"s{session}"] = {"x": level + rng.normal(size=length), "y": level + rng.normal(size=length)}
    assert granger_panel(panel).relationships == []


def event(kind: EventType, index: int, **fields: Any) -> AgentEvent:
    """An event of session s with a step index."""
    return AgentEvent(session_id="s", agent_id="agent", type=kind, step_index=index, **fields)


def coding_session() -> list[AgentEvent]:
    """A small coding session: two edits, a failing test run, the same test run again, then success."""
    commands = [
        ("sed -i 's/a/b/' src/x.py", EventStatus.OK),
        ("cat <<'EOF' > src/y.py\nprint(1)\nEOF", EventStatus.OK),
        ("python -m pytest tests/test_x.py", EventStatus.ERROR),
        ("python -m pytest   tests/test_x.py", EventStatus.OK),
    ]
    events = [event(EventType.SESSION_START, 0)]
    for number, (command, status) in enumerate(commands):
        step = 2 * number + 1
        events.append(event(EventType.THOUGHT, step, content="I will try this", tokens_input=100, tokens_output=10))
        events.append(event(EventType.TOOL_CALL, step, name="bash", content=command))
        events.append(event(EventType.TOOL_RESULT, step + 1, name="bash", status=status, content="..."))
    events.append(event(EventType.SESSION_END, 9, status=EventStatus.OK, attributes={"escai.outcome.success": True}))
    return events


def test_features_count_errors_repeats_and_edits_before_the_first_test() -> None:
    """Errors, repeated actions (whitespace-insensitive), edits before the first test and the outcome are read."""
    events = coding_session()
    actions = extract_actions(events)
    assert [action.failed for action in actions] == [False, False, True, False]
    assert [action.repeated for action in actions] == [False, False, False, True]
    features = extract_session_features(events)
    assert features[TOOL_ERRORS] == pytest.approx(math.log1p(1))
    assert features[REPEATED_ACTIONS] == pytest.approx(math.log1p(1))
    assert features[EDITS_BEFORE_TEST] == pytest.approx(math.log1p(2))
    assert features[OUTCOME] == 1.0
    assert extract_session_features(events, outcome=False)[OUTCOME] == 0.0
    assert outcomes_from_annotations({"labels": {"success": False}}) is False


def test_graphml_escapes_markup_and_characters_xml_cannot_hold(tmp_path: Path) -> None:
    """Markup characters round-trip through networkx, terminal escapes become U+FFFD, undirected edges say so."""
    awkward = "a<b>&\"c' \x1b[31mred\x00"
    graph = relationships_to_graph(
        [
            CausalRelationship(cause=awkward, effect="y", strength=0.5, confidence=0.9, method=PC_METHOD),
            CausalRelationship(cause="y", effect="z", strength=-0.2, confidence=0.4, method=PC_UNDIRECTED_METHOD),
        ]
    )
    document = to_graphml(graph)
    written = tmp_path / "causal.graphml"
    written.write_text(document, encoding="utf-8")
    parsed = nx.read_graphml(written, force_multigraph=True)
    assert "a<b>&\"c' \ufffd[31mred\ufffd" in parsed.nodes
    assert [data["directed"] for _, _, data in parsed.edges(data=True)] == [True, False]
    assert "<b>" not in document and "\x1b" not in document
    assert graph_to_json(graph)["edges"][1]["directed"] is False


def _read_literal(text: str, start: int) -> tuple[str, int]:
    """Decode the Cypher string literal opening at ``start``: its value and the index after its closing quote."""
    assert text[start] == "'"
    escapes = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", "\\": "\\"}
    value, index = [], start + 1
    while text[index] != "'":
        if text[index] == "\\":
            code = text[index + 1]
            if code == "u":
                value.append(chr(int(text[index + 2 : index + 6], 16)))
                index += 6
                continue
            value.append(escapes[code])
            index += 2
            continue
        value.append(text[index])
        index += 1
    return "".join(value), index + 1


def test_cypher_literals_and_names_cannot_break_out() -> None:
    """Quotes, backslashes, newlines and control characters stay inside literals; backquotes inside names double."""
    hostile = "x'}) DETACH DELETE n //\\\n\x1b"
    literal = cypher_string(hostile)
    assert "\n" not in literal and "\x1b" not in literal
    assert _read_literal(literal, 0) == (hostile, len(literal))
    assert cypher_name("we`ird") == "`we``ird`"
    graph = relationships_to_graph(
        [CausalRelationship(cause=hostile, effect="y", strength=0.5, confidence=0.9, method=GRANGER_METHOD, lag=2)]
    )
    lines = to_cypher(graph).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("MERGE (n:`Variable` {id: ")
    assert _read_literal(lines[0], lines[0].index("'"))[0] == hostile
    assert "CREATE (a)-[:`CAUSES` {" in lines[2] and "`lag`: 2" in lines[2] and "`method`: 'granger'" in lines[2]


def real_runs(path: Path) -> list[ImportedRun]:
    """The runs of one dataset file, or skip when the shared datasets are not on this machine."""
    if not path.exists():
        pytest.skip(f"shared dataset {path} is not present (set ESCAI_DATASETS to its folder)")
    return [item for item in read_runs(path, "auto") if isinstance(item, ImportedRun)]


@pytest.mark.parametrize("path", [TAU_BENCH, SWE_BENCH], ids=["tau-bench", "swe-bench"])
def test_real_data_discovery_is_deterministic_given_a_seed(path: Path) -> None:
    """On real runs PC with bootstrap gives the same relationships twice for one seed, and finds some."""
    runs = real_runs(path)
    sessions = {run.session_id: run.events for run in runs}
    outcomes = {run.session_id: outcomes_from_annotations(run.annotations) for run in runs}
    settings = PcSettings(resamples=15, seed=11)
    first = discover_from_sessions(sessions, outcomes, settings)
    second = discover_from_sessions(sessions, outcomes, settings)
    assert first.relationships == second.relationships
    assert first.relationships and first.sessions == len(runs)
    assert OUTCOME in first.columns
    assert all(item.effect != OUTCOME or item.method == PC_METHOD for item in first.relationships)
    granger = granger_from_sessions(sessions, settings=GrangerSettings(max_lag=2))
    assert granger.tests
    assert granger.tests == granger_from_sessions(sessions, settings=GrangerSettings(max_lag=2)).tests
