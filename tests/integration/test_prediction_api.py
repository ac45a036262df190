"""The prediction API on SQLite and PostgreSQL: 409 before training, predict now, store, publish, list."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from escai.analysis.predict.registry import ModelRegistry
from escai.analysis.predict.stored import load_outcome_runs
from escai.analysis.predict.training import train_models
from escai.bus.base import ChangeEvent, ChangeKind
from escai.ingest.importers import ImportedRun, read_runs
from escai.settings import Settings

TAU_BENCH = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "datasets"
    / "tau_bench_historical"
    / "gpt-4o-airline.json.gz"
)


@pytest.fixture(scope="module")
def tau_runs() -> list[ImportedRun]:
    """Forty tau-bench runs: the four trials of ten tasks."""
    if not TAU_BENCH.exists():
        pytest.skip(f"dataset missing: {TAU_BENCH}")
    runs = [run for run in read_runs(TAU_BENCH, "tau-bench") if isinstance(run, ImportedRun)]
    return [run for run in runs if run.annotations["task"]["task_id"] < 10]


def _import(client: TestClient, runs: list[ImportedRun]) -> None:
    for run in runs:
        response = client.post("/api/v1/events", json=[event.model_dump(mode="json") for event in run.events])
        assert response.status_code in (200, 202), response.text


def _train_from_database(client: TestClient, settings: Settings) -> str:
    service = client.app.state.service  # type: ignore[attr-defined]
    runs = client.portal.call(load_outcome_runs, service.engine)  # type: ignore[union-attr]
    assert len(runs) == 40 and {run.success for run in runs} == {True, False}
    assert len({run.group for run in runs}) == 10  # trials of one task share the task-text group
    return ModelRegistry.for_settings(settings).save(train_models(runs), training_n=len(runs)).version


def test_predict_requires_a_trained_model_then_stores_and_publishes(
    client: TestClient, settings: Settings, tau_runs: list[ImportedRun]
) -> None:
    """409 before any model exists; afterwards a prediction is returned, stored, listed and published live."""
    _import(client, tau_runs)
    session_id = tau_runs[0].session_id
    refused = client.post(f"/api/v1/sessions/{session_id}/predict")
    assert refused.status_code == 409
    assert "escai model train" in refused.json()["detail"]

    version = _train_from_database(client, settings)
    service = client.app.state.service  # type: ignore[attr-defined]
    subscription = service.bus.subscribe(
        lambda change: change.kind is ChangeKind.ANALYSIS_RESULT and change.payload.get("analysis") == "prediction"
    )
    response = client.post(f"/api/v1/sessions/{session_id}/predict")
    assert response.status_code == 200, response.text
    body = response.json()
    prediction = body["prediction"]
    assert prediction["session_id"] == session_id and prediction["model_version"] == version
    assert prediction["failure_risk"] == pytest.approx(1 - prediction["success_probability"])
    assert body["finished"] is True and prediction["remaining_steps"] == 0.0
    assert body["drivers"] and all(isinstance(driver["contribution"], float) for driver in body["drivers"])
    known = {event.id for event in tau_runs[0].events}
    assert all(set(driver["event_ids"]) <= known for driver in body["drivers"])
    explanation = body["explanation"]
    assert explanation["kind"] == "prediction" and explanation["sentences"]
    assert all(set(sentence["evidence_event_ids"]) <= known for sentence in explanation["sentences"])

    async def next_change() -> ChangeEvent:
        return await asyncio.wait_for(subscription.queue.get(), 5)

    change = client.portal.call(next_change)  # type: ignore[union-attr]
    assert change.session_id == session_id and change.payload["model_version"] == version

    client.post(f"/api/v1/sessions/{session_id}/predict")
    agent = prediction["agent_id"]
    latest = client.get(f"/api/v1/agents/{agent}/predictions").json()
    assert [item["session_id"] for item in latest] == [session_id]
    history = client.get(f"/api/v1/agents/{agent}/predictions", params={"session_id": session_id, "history": True})
    assert len(history.json()) == 2 and history.json()[0]["success_probability"] == prediction["success_probability"]


def test_unknown_session_and_agent_are_404(client: TestClient, settings: Settings, tau_runs: list[ImportedRun]) -> None:
    """Predicting a session that does not exist, or listing an unknown agent, answers 404."""
    _import(client, tau_runs)
    _train_from_database(client, settings)
    assert client.post("/api/v1/sessions/no-such-session/predict").status_code == 404
    assert client.get("/api/v1/agents/nobody/predictions").status_code == 404
    assert client.get(f"/api/v1/agents/{tau_runs[0].events[0].agent_id}/predictions").json() == []


def test_openapi_names_the_prediction_operations(client: TestClient) -> None:
    """Both routes are in the OpenAPI schema under explicit operation ids."""
    schema: dict[str, Any] = client.get("/openapi.json").json()
    operations = {operation["operationId"] for path in schema["paths"].values() for operation in path.values()}
    assert {"list_agent_predictions", "predict_session"} <= operations
