"""The behaviour-pattern API on SQLite and PostgreSQL: run over imported SWE-bench runs, list, per agent, 404s."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from escai.bus.base import ChangeEvent, ChangeKind
from escai.ingest.importers import ImportedRun, read_runs

SWE_BENCH = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "datasets"
    / "mini_swe_agent_swebench_verified"
    / "trajectories.jsonl.gz"
)


@pytest.fixture(scope="module")
def swe_runs() -> list[Any]:
    """Eight resolved and eight unresolved SWE-bench runs (the first of each in file order)."""
    if not SWE_BENCH.exists():
        pytest.skip(f"dataset missing: {SWE_BENCH}")
    runs = [run for run in read_runs(SWE_BENCH, "auto") if isinstance(run, ImportedRun)]
    resolved = [run for run in runs if run.annotations["labels"]["success"]][:8]
    unresolved = [run for run in runs if not run.annotations["labels"]["success"]][:8]
    return [*resolved, *unresolved]


def _import(client: TestClient, runs: list[Any]) -> None:
    for run in runs:
        body = [event.model_dump(mode="json") for event in run.events]
        response = client.post("/api/v1/events", json=body)
        assert response.status_code in (200, 202), response.text


def test_run_stores_lists_and_publishes_patterns(client: TestClient, swe_runs: list[Any]) -> None:
    """A run over imported runs stores patterns sorted by corrected p-value and publishes a summary on the bus."""
    _import(client, swe_runs)
    service = client.app.state.service  # type: ignore[attr-defined]
    subscription = service.bus.subscribe(
        lambda change: change.kind is ChangeKind.ANALYSIS_RESULT and change.payload.get("analysis") == "patterns"
    )

    response = client.post("/api/v1/analytics/patterns/run", json={"min_support": 0.25, "max_gap": 1})
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["analysis"] == "patterns"
    assert summary["sessions"] == 16 and summary["failed_sessions"] == 8
    assert summary["agent_id"] == "mini-swe-agent"
    assert summary["stored_patterns"] == summary["patterns"] > 0

    async def next_change() -> ChangeEvent:
        return await asyncio.wait_for(subscription.queue.get(), 5)

    change = client.portal.call(next_change)  # type: ignore[union-attr]
    assert change.payload["analysis"] == "patterns" and change.payload["patterns"] == summary["patterns"]

    page = client.get("/api/v1/analytics/patterns", params={"limit": 1000}).json()
    assert page["total"] == summary["patterns"]
    adjusted = [pattern["p_value_adjusted"] for pattern in page["patterns"]]
    assert adjusted == sorted(adjusted)
    first = page["patterns"][0]
    assert first["support"] == len(first["session_ids"]) == first["failure_support"] + first["success_support"]
    assert 0 <= first["p_value"] <= first["p_value_adjusted"] <= 1

    failing = client.get("/api/v1/analytics/patterns", params={"direction": "failure", "limit": 1000}).json()
    assert all(pattern["lift_toward_failure"] > 1 for pattern in failing["patterns"])
    assert failing["total"] < page["total"]

    again = client.post("/api/v1/analytics/patterns/run", json={"min_support": 0.25, "max_gap": 1}).json()
    assert client.get("/api/v1/analytics/patterns").json()["total"] == again["patterns"] == summary["patterns"]


def test_agent_patterns_anomalies_and_clusters(client: TestClient, swe_runs: list[Any]) -> None:
    """Per-agent patterns, session and step anomalies, and clusters are served after a run; unknowns give 404."""
    _import(client, swe_runs)
    assert client.post("/api/v1/analytics/patterns/run", json={"min_support": 0.25}).status_code == 200

    mine = client.get("/api/v1/agents/mini-swe-agent/patterns").json()
    assert mine["total"] > 0 and all(pattern["agent_id"] == "mini-swe-agent" for pattern in mine["patterns"])
    assert client.get("/api/v1/agents/nobody/patterns").status_code == 404

    anomalies = client.get("/api/v1/analytics/anomalies", params={"limit": 100}).json()
    assert len(anomalies) == 16
    scores = [anomaly["score"] for anomaly in anomalies]
    assert scores == sorted(scores, reverse=True) and all(0 <= score <= 1 for score in scores)
    assert anomalies[0]["explanation"].startswith("This session is")

    detail = client.get(f"/api/v1/sessions/{anomalies[0]['session_id']}/anomalies").json()
    assert 0 < len(detail["steps"]) <= 5 and detail["steps"][0]["event_ids"]
    assert isinstance(detail["loops"], list)
    assert client.get("/api/v1/sessions/nowhere/anomalies").status_code == 404

    clusters = client.get("/api/v1/analytics/clusters", params={"agent_id": "mini-swe-agent"}).json()
    assert len(clusters) >= 2 and sum(cluster["size"] for cluster in clusters) == 16


def test_run_without_enough_labelled_sessions_is_refused(client: TestClient, swe_runs: list[Any]) -> None:
    """With fewer than four labelled sessions the run answers 422 and an unanalysed session's anomalies are 404."""
    _import(client, list(itertools.islice(swe_runs, 2)))
    response = client.post("/api/v1/analytics/patterns/run")
    assert response.status_code == 422 and "at least 4" in response.json()["detail"]
    unanalysed = client.get(f"/api/v1/sessions/{swe_runs[0].session_id}/anomalies")
    assert unanalysed.status_code == 404 and "not been analysed" in unanalysed.json()["detail"]
