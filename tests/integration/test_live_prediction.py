"""Live prediction: once a model is trained, every stored step of a session updates its prediction, published
on the WebSocket and stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from tests.integration.conftest import make_settings

from escai.analysis.predict.dataset import outcome_run
from escai.analysis.predict.registry import ModelRegistry
from escai.analysis.predict.training import train_models
from escai.ingest.importers import ImportedRun, read_runs
from escai.server.app import create_app

TAU_BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "tau_bench_historical"


@pytest.fixture(scope="module")
def tau_runs() -> list[ImportedRun]:
    """Forty-one tau-bench runs: forty to train on, one to watch live."""
    path = TAU_BENCH / "gpt-4o-airline.json.gz"
    if not path.exists():
        pytest.skip(f"dataset missing: {path}")
    return [run for _, run in zip(range(41), read_runs(path, "tau-bench"), strict=False)]


def test_a_watched_session_gets_a_prediction_per_step(
    database_url: str, tmp_path: Path, tau_runs: list[ImportedRun]
) -> None:
    """With a model in the registry, a subscriber receives prediction frames as the session's steps are stored."""
    settings = make_settings(database_url, tmp_path)
    training = [
        outcome_run(run.session_id, run.events, bool(run.annotations["labels"]["success"])) for run in tau_runs[:40]
    ]
    ModelRegistry.for_settings(settings).save(train_models(training), training_n=len(training))
    watched = tau_runs[40]
    with TestClient(create_app(settings)) as client:
        with client.websocket_connect(f"/api/v1/ws?session_id={quote(watched.session_id)}") as websocket:
            websocket.receive_json()
            body = [event.model_dump(mode="json") for event in watched.events]
            assert client.post("/api/v1/events", json=body).status_code == 200
            frames: list[dict[str, Any]] = []
            while len(frames) < 3:
                frame = websocket.receive_json()
                if frame["type"] == "analysis.result" and frame["data"].get("analysis") == "prediction":
                    frames.append(frame["data"])
        for frame in frames:
            assert 0 <= frame["success_probability"] <= 1
            assert abs(frame["success_probability"] + frame["failure_risk"] - 1) < 1e-6
            assert frame["model_version"]
        assert [frame["step_index"] for frame in frames] == sorted(frame["step_index"] for frame in frames)
        service = client.app.state.service  # type: ignore[attr-defined]
        client.portal.call(service.prediction.flush)  # type: ignore[union-attr]
        agent = quote(frames[0]["agent_id"], safe="")
        stored = client.get(f"/api/v1/agents/{agent}/predictions", params={"session_id": watched.session_id})
        assert stored.status_code == 200, stored.text
        assert stored.json()
