"""Epistemic storage, session analysis and the REST API over real tau-bench and mini-swe-agent runs.

The runs come from ``../shared/datasets`` (tests that need them are skipped, saying so, when the folder is
absent); every database test runs on SQLite and on PostgreSQL. Hand-built records check the store's round trip
and filters exactly; real runs check analysis, idempotent re-analysis, the HTTP routes, their 404s, the knowledge
graph formats and the ``analysis.result`` change that WebSocket subscribers receive.
"""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ElementTree  # parses GraphML this test just generated
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate as validate_openapi
from sqlalchemy import func, select
from tests.integration.conftest import event, make_settings
from typer.testing import CliRunner

from escai.analysis.epistemic.timeline import EpistemicTimeline
from escai.analysis.session_analysis import analyse_session, compare_sessions
from escai.analysis.text import HashingEmbedder
from escai.cli.main import app as escai_cli
from escai.exceptions import NotFoundError
from escai.ingest.importers import ImportedRun, read_runs
from escai.ingest.importers.runner import import_files
from escai.model.records import (
    Belief,
    BeliefRevision,
    ClaimType,
    EpistemicState,
    Explanation,
    ExplanationKind,
    ExplanationSentence,
    Goal,
    GoalStatus,
    KnowledgeFact,
    RevisionKind,
)
from escai.server.app import create_app
from escai.service import EscaiService
from escai.store.engine import create_engine
from escai.store.epistemic_store import (
    count_agent_states,
    latest_agent_state,
    list_agent_states,
    list_explanations,
    list_revisions,
    load_timeline,
    replace_comparison,
    replace_session_analysis,
    save_explanations,
    save_states,
)
from escai.store.knowledge_store import load_knowledge_graph
from escai.store.queries import list_session_events
from escai.store.tables import belief_revisions, epistemic_states, explanations

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
TAU_BENCH = DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz"
MINI_SWE = DATASETS / "mini_swe_agent_swebench_verified" / "trajectories.jsonl.gz"

needs_data = pytest.mark.skipif(
    not (TAU_BENCH.is_file() and MINI_SWE.is_file()),
    reason=f"the shared data sets are not at {DATASETS}: epistemic tests on real runs skipped",
)
LIGHT = HashingEmbedder()


# --- real runs -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleRuns:
    """Real runs written to a folder for import: one tau-bench run and a resolved and an unresolved SWE-bench run."""

    folder: Path
    tau: ImportedRun
    resolved: ImportedRun
    unresolved: ImportedRun


def write_sample_runs(folder: Path) -> SampleRuns:
    """Write the first tau-bench run and the first resolved and unresolved mini-swe-agent runs into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    tau = json.loads(gzip.decompress(TAU_BENCH.read_bytes()))[:1]
    (folder / "tau.json").write_text(json.dumps(tau))
    chosen: dict[bool, str] = {}
    with gzip.open(MINI_SWE, "rt") as lines:
        for line in lines:
            chosen.setdefault(bool(json.loads(line)["resolved"]), line)
            if len(chosen) == 2:
                break
    (folder / "mini.jsonl").write_text(chosen[True] + chosen[False])
    (tau_run,) = [run for run in read_runs(folder / "tau.json") if isinstance(run, ImportedRun)]
    resolved, unresolved = [run for run in read_runs(folder / "mini.jsonl") if isinstance(run, ImportedRun)]
    return SampleRuns(folder, tau_run, resolved, unresolved)


def import_sample_runs(database_url: str, folder: Path) -> SampleRuns:
    """Write the sample runs and store them with ``escai import`` (which also runs live analysis on them)."""
    runs = write_sample_runs(folder)
    result = CliRunner().invoke(escai_cli, ["import", str(folder), "--json", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sessions"] == 3
    return runs


async def ingest_sample_runs(database_url: str, folder: Path) -> SampleRuns:
    """Write the sample runs and store them through a running service's ingest pipeline (live analysis on)."""
    runs = write_sample_runs(folder)
    service = EscaiService(make_settings(database_url, folder.parent))
    await service.start()
    try:
        summary = await import_files(service.pipeline, [folder])
    finally:
        await service.stop()
    assert summary.sessions == 3 and not summary.failed
    return runs


async def count_rows(database_url: str, session_id: str) -> dict[str, int]:
    """How many states, revisions and own explanations are stored for a session."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            counts = {}
            for name, table in (
                ("states", epistemic_states),
                ("revisions", belief_revisions),
                ("explanations", explanations),
            ):
                query = select(func.count()).select_from(table).where(table.c.session_id == session_id)
                counts[name] = int((await connection.execute(query)).scalar_one())
            return counts
    finally:
        await engine.dispose()


def assert_citations_exist(found: list[dict[str, Any]] | list[Explanation], event_ids: set[str]) -> None:
    """Every sentence of every explanation cites at least one event, and only events of the given set."""
    for item in found:
        explanation = item if isinstance(item, Explanation) else Explanation.model_validate(item)
        assert explanation.sentences, explanation
        for sentence in explanation.sentences:
            assert sentence.evidence_event_ids, sentence
            assert set(sentence.evidence_event_ids) <= event_ids, sentence


# --- the store, on hand-built records --------------------------------------------------------------------------

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def hand_built_state(session_id: str, agent_id: str, step: int, confidence: float) -> EpistemicState:
    """A state with one belief, one fact and one goal."""
    return EpistemicState(
        session_id=session_id,
        agent_id=agent_id,
        step_index=step,
        event_id=f"{session_id}-e{step}",
        timestamp=T0 + timedelta(seconds=step),
        beliefs=[
            Belief(statement=f"belief {step}", confidence=confidence, evidence_event_ids=[f"{session_id}-e{step}"])
        ],
        knowledge=[KnowledgeFact(subject="repo", relation="has_file", object=f"f{step}.py", object_kind="file")],
        goals=[Goal(description="fix the bug", status=GoalStatus.ACTIVE if step < 2 else GoalStatus.ACHIEVED)],
        confidence=confidence,
        uncertainty=1 - confidence,
        method="light",
        signals={"text_certainty": confidence},
    )


def hand_built_explanation(session_id: str, kind: ExplanationKind, other: str | None = None) -> Explanation:
    """An explanation of two cited sentences."""
    sentences = [
        ExplanationSentence(text="It ran tests.", claim=ClaimType.ACTION, evidence_event_ids=[f"{session_id}-e0"]),
        ExplanationSentence(text="They failed.", claim=ClaimType.TOOL_FAILURE, evidence_event_ids=[f"{session_id}-e1"]),
    ]
    return Explanation(
        session_id=session_id,
        kind=kind,
        text="It ran tests. They failed.",
        evidence_event_ids=[f"{session_id}-e0", f"{session_id}-e1"],
        confidence=0.7,
        sentences=sentences,
        agent_id="coder",
        other_session_id=other,
    )


async def test_store_round_trip_filters_and_replacement(database_url: str) -> None:
    """Hand-built states, revisions and explanations read back equal; filters, paging and replacement behave."""
    states = [hand_built_state("s1", "coder", step, 0.5 + step / 10) for step in range(3)]
    states.append(hand_built_state("s2", "coder", 0, 0.9).model_copy(update={"timestamp": T0 + timedelta(hours=1)}))
    revision = BeliefRevision(
        session_id="s1",
        agent_id="coder",
        step_index=2,
        statement="belief 0",
        kind=RevisionKind.CONTRADICTED,
        previous_confidence=0.5,
        new_confidence=0.2,
        reason="a test failed",
        evidence_event_ids=["s1-e0", "s1-e2"],
        timestamp=T0 + timedelta(seconds=2),
    )
    timeline = EpistemicTimeline(
        session_id="s1",
        method="light",
        states=states[:3],
        revisions=[revision],
        facts=[KnowledgeFact(subject="repo", relation="has_file", object="a.py", source_event_id="s1-e1")],
    )
    behaviour = hand_built_explanation("s1", ExplanationKind.BEHAVIOUR)
    comparison = hand_built_explanation("s1", ExplanationKind.COMPARISON, other="s2")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            assert await replace_session_analysis(connection, "s1", timeline, [behaviour]) == 1
            await replace_comparison(connection, comparison)
            assert await save_states(connection, states[3:]) == 1
            assert await save_explanations(connection, [hand_built_explanation("s2", ExplanationKind.FAILURE)]) == 1
        async with engine.connect() as connection:
            stored = await load_timeline(connection, "s1")
            assert stored.states == states[:3] and stored.revisions == [revision] and stored.facts == timeline.facts
            assert stored.method == "light"
            assert (await load_timeline(connection, "s1", agent_id="other")).states == []
            assert (await load_timeline(connection, "nope")).method == "unknown"
            assert await list_agent_states(connection, "coder") == states
            assert await list_agent_states(connection, "coder", limit=2, offset=1) == states[1:3]
            assert await list_agent_states(connection, "coder", session_id="s2") == states[3:]
            assert await count_agent_states(connection, "coder") == 4
            assert await latest_agent_state(connection, "coder") == states[3]
            assert await latest_agent_state(connection, "coder", "s1") == states[2]
            assert await latest_agent_state(connection, "nobody") is None
            assert await list_revisions(connection, session_id="s1") == [revision]
            assert await list_revisions(connection, agent_id="other") == []
            assert await list_explanations(connection, session_id="s1", kind=ExplanationKind.BEHAVIOUR) == [behaviour]
            assert await list_explanations(connection, kind=ExplanationKind.COMPARISON) == [comparison]
            # The comparison is found from both of its sessions.
            assert comparison in await list_explanations(connection, session_id="s2")
            assert len(await list_explanations(connection, agent_id="coder")) == 3
            assert await list_explanations(connection, agent_id="other") == []
        # Replacing the analysis twice leaves one copy, and keeps the pair's comparison.
        for _ in range(2):
            async with engine.begin() as connection:
                await replace_session_analysis(connection, "s1", timeline, [behaviour])
        async with engine.connect() as connection:
            assert len(await list_agent_states(connection, "coder", session_id="s1")) == 3
            assert len(await list_revisions(connection, session_id="s1")) == 1
            assert len((await load_knowledge_graph(connection, "s1")).facts()) == 1
            assert await list_explanations(connection, session_id="s1", kind=ExplanationKind.COMPARISON) == [comparison]
            assert await list_explanations(connection, session_id="s1", kind=ExplanationKind.BEHAVIOUR) == [behaviour]
    finally:
        await engine.dispose()


# --- analysis of real sessions ---------------------------------------------------------------------------------


@needs_data
async def test_analysis_of_real_runs_is_stored_and_idempotent(database_url: str, tmp_path: Path) -> None:
    """Analysing imported runs stores their timelines, explanations and knowledge; analysing again changes nothing."""
    runs = await ingest_sample_runs(database_url, tmp_path / "data")
    engine = create_engine(database_url)
    try:
        for run in (runs.tau, runs.resolved):
            analysis = await analyse_session(engine, run.session_id, embedder=LIGHT)
            assert analysis.session.id == run.session_id and analysis.timeline.method == "light"
            assert analysis.timeline.states and analysis.explanations
            assert_citations_exist(analysis.explanations, {item.id for item in run.events})
            async with engine.connect() as connection:
                assert [item.id for item in await list_session_events(connection, run.session_id)] == [
                    item.id for item in run.events
                ]
                stored = await load_timeline(connection, run.session_id)
                assert stored.states == analysis.timeline.states
                assert stored.revisions == analysis.timeline.revisions
                assert await list_explanations(connection, session_id=run.session_id) == analysis.explanations
                graph = await load_knowledge_graph(connection, run.session_id)
                assert (graph.node_count, graph.edge_count) == (
                    analysis.knowledge.node_count,
                    analysis.knowledge.edge_count,
                )
                assert graph.edge_count == len(set(analysis.timeline.facts)) > 0
            first = await count_rows(database_url, run.session_id)
            assert first["states"] == len(analysis.timeline.states)
            again = await analyse_session(engine, run.session_id, embedder=LIGHT)
            assert await count_rows(database_url, run.session_id) == first
            assert again.timeline.states == analysis.timeline.states
        comparison = await compare_sessions(
            engine, runs.resolved.session_id, runs.unresolved.session_id, embedder=LIGHT
        )
        assert comparison.kind is ExplanationKind.COMPARISON
        assert comparison.other_session_id == runs.unresolved.session_id
        assert_citations_exist(
            [comparison], {item.id for run in (runs.resolved, runs.unresolved) for item in run.events}
        )
        await analyse_session(engine, runs.resolved.session_id, embedder=LIGHT)
        async with engine.connect() as connection:
            kept = await list_explanations(
                connection, session_id=runs.unresolved.session_id, kind=ExplanationKind.COMPARISON
            )
            assert kept == [comparison]
        with pytest.raises(NotFoundError, match="no session"):
            await analyse_session(engine, "no-such-session")
        with pytest.raises(NotFoundError, match="no session"):
            await compare_sessions(engine, runs.tau.session_id, "no-such-session")
    finally:
        await engine.dispose()


# --- the REST API ----------------------------------------------------------------------------------------------


def receive_type(websocket: Any, kind: str) -> dict[str, Any]:
    """The next frame of the given type, skipping other frames."""
    while True:
        frame: dict[str, Any] = websocket.receive_json()
        if frame["type"] == kind:
            return frame


@needs_data
def test_epistemic_routes_over_real_sessions(database_url: str, tmp_path: Path) -> None:
    """POST analyze stores and publishes the analysis; the GET routes return it, paged and filtered."""
    runs = import_sample_runs(database_url, tmp_path / "data")
    session_id = runs.tau.session_id
    event_ids = {item.id for item in runs.tau.events}
    settings = make_settings(database_url, tmp_path)  # live analysis on: analyze flushes it first
    with TestClient(create_app(settings)) as client:
        with client.websocket_connect(f"/api/v1/ws?session_id={session_id}") as websocket:
            assert websocket.receive_json()["sessions"] == [session_id]
            response = client.post(f"/api/v1/sessions/{session_id}/analyze", params={"method": "light"})
            assert response.status_code == 200, response.text
            frame = receive_type(websocket, "analysis.result")
        summary = response.json()
        assert frame["session_id"] == session_id and frame["data"]["analysis"] == "epistemic"
        assert frame["data"]["scope"] == "session"
        assert frame["data"]["states"] == summary["states"] > 0
        assert frame["data"]["explanations"] == summary["explanations"]
        assert summary["method"] == "light" and summary["knowledge"]["edges"] > 0
        assert_citations_exist(summary["explanations"], event_ids)
        (agent_id,) = summary["final_states"]

        timeline = client.get(f"/api/v1/sessions/{session_id}/epistemic").json()
        assert timeline["analysed"] is True and timeline["method"] == "light"
        assert len(timeline["states"]) == timeline["total_states"] == summary["states"]
        assert len(timeline["revisions"]) == summary["revisions"]
        assert timeline["knowledge"] == summary["knowledge"]
        assert [state["step_index"] for state in timeline["states"]] == sorted(
            state["step_index"] for state in timeline["states"]
        )
        page = client.get(f"/api/v1/sessions/{session_id}/epistemic", params={"limit": 3, "offset": 2}).json()
        assert page["states"] == timeline["states"][2:5]

        latest = client.get(f"/api/v1/agents/{agent_id}/epistemic").json()
        assert latest["latest"] == summary["final_states"][agent_id] == timeline["states"][-1]
        assert latest["history"] == [] and latest["total"] == summary["states"]
        history = client.get(
            f"/api/v1/agents/{agent_id}/epistemic",
            params={"history": "true", "session_id": session_id, "limit": 4, "offset": 1},
        ).json()
        assert history["history"] == timeline["states"][1:5]

        explained = client.get(f"/api/v1/agents/{agent_id}/explanations", params={"session_id": session_id}).json()
        assert sorted(item["kind"] for item in explained["explanations"]) == sorted(
            item["kind"] for item in summary["explanations"]
        )
        behaviour = client.get(f"/api/v1/agents/{agent_id}/explanations", params={"kind": "behaviour"}).json()
        assert [item["kind"] for item in behaviour["explanations"]] == ["behaviour"]

        graph = client.get(f"/api/v1/sessions/{session_id}/knowledge").json()
        assert len(graph["nodes"]) == summary["knowledge"]["nodes"]
        assert len(graph["edges"]) == summary["knowledge"]["edges"]
        graphml = client.get(f"/api/v1/sessions/{session_id}/knowledge", params={"format": "graphml"})
        assert graphml.headers["content-type"].startswith("application/graphml+xml")
        namespace = "{http://graphml.graphdrawing.org/xmlns}"
        root = ElementTree.fromstring(graphml.content)  # noqa: S314 - trusted: written by ESCAI in this test
        assert len(root.findall(f"{namespace}graph/{namespace}node")) == summary["knowledge"]["nodes"]
        assert len(root.findall(f"{namespace}graph/{namespace}edge")) == summary["knowledge"]["edges"]
        cypher = client.get(f"/api/v1/sessions/{session_id}/knowledge", params={"format": "cypher"})
        assert cypher.headers["content-type"].startswith("text/plain")
        lines = cypher.text.splitlines()
        assert sum(line.startswith("MERGE (") for line in lines) == summary["knowledge"]["nodes"]
        assert sum(line.startswith("MATCH (") for line in lines) == summary["knowledge"]["edges"]
        assert client.get(f"/api/v1/sessions/{session_id}/knowledge", params={"format": "dot"}).status_code == 422


def test_epistemic_routes_refuse_unknown_and_unanalysed_targets(database_url: str, tmp_path: Path) -> None:
    """Unknown sessions and agents are 404s with a reason; a stored but unanalysed session says so."""
    settings = make_settings(database_url, tmp_path, analysis_live=False)  # keep the posted session unanalysed
    with TestClient(create_app(settings)) as client:
        stored = client.post("/api/v1/events", json=[event("quiet", "watcher", id="q1", content="I think so.")])
        assert stored.status_code == 200, stored.text
        for path in ("epistemic", "knowledge"):
            missing = client.get(f"/api/v1/sessions/nope/{path}")
            assert missing.status_code == 404 and missing.json()["detail"] == "no session with id 'nope'"
        assert client.post("/api/v1/sessions/nope/analyze").json()["detail"] == "no session with id 'nope'"
        for path in ("epistemic", "explanations"):
            missing = client.get(f"/api/v1/agents/ghost/{path}")
            assert missing.status_code == 404 and missing.json()["detail"] == "no agent with id 'ghost'"
        unanalysed = client.get("/api/v1/agents/watcher/epistemic")
        assert unanalysed.status_code == 404 and "analyze" in unanalysed.json()["detail"]
        timeline = client.get("/api/v1/sessions/quiet/epistemic").json()
        assert (timeline["analysed"], timeline["method"], timeline["states"]) == (False, "unknown", [])
        assert client.get("/api/v1/sessions/quiet/knowledge").json() == {"nodes": [], "edges": []}
        assert client.get("/api/v1/agents/watcher/explanations").json()["explanations"] == []
        schema = client.get("/openapi.json").json()
        validate_openapi(schema)
        operations = {operation["operationId"] for route in schema["paths"].values() for operation in route.values()}
        assert {
            "get_agent_epistemic_state",
            "list_agent_explanations",
            "get_session_epistemic_timeline",
            "get_session_knowledge_graph",
            "analyze_session",
        } <= operations
