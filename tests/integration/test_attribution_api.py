"""Failure attribution over the API: a real Who&When log is stored, attributed, listed; unknown sessions are 404."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from escai.ingest.importers import read_runs

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
WHO_AND_WHEN = DATASETS / "who_and_when" / "Algorithm-Generated" / "1.json"

pytestmark = pytest.mark.skipif(not WHO_AND_WHEN.exists(), reason="../shared/datasets is not present")


def test_a_stored_failed_run_is_attributed_with_evidence_and_listed(client: TestClient) -> None:
    """POST ranks (agent, step) candidates citing stored events; GET returns the stored attribution."""
    run = next(read_runs(WHO_AND_WHEN, "who-and-when"))
    body = [event.model_dump(mode="json") for event in run.events]
    assert client.post("/api/v1/events", json=body).status_code == 200
    path = f"/api/v1/sessions/{quote(run.session_id, safe='/')}/attribution"
    with client.websocket_connect(f"/api/v1/ws?session_id={quote(run.session_id)}") as websocket:
        websocket.receive_json()
        response = client.post(path)
        assert response.status_code == 200, response.text
        # Live epistemic updates of the same session may arrive first: wait for the attribution's frame.
        while (frame := websocket.receive_json())["type"] != "analysis.result" or (
            frame["data"].get("analysis") != "attribution"
        ):
            pass
    attribution = response.json()
    assert frame["data"]["analysis"] == "attribution"
    candidates = attribution["candidates"]
    assert attribution["method"].startswith("combined(")
    assert 1 <= len(candidates) <= 10
    assert [c["confidence"] for c in candidates] == sorted((c["confidence"] for c in candidates), reverse=True)
    agents = {event.agent_id for event in run.events}
    event_ids = {event.id for event in run.events}
    for candidate in candidates:
        assert candidate["agent_id"] in agents
        assert candidate["evidence_event_ids"] and set(candidate["evidence_event_ids"]) <= event_ids
    stored = client.get(path).json()
    assert stored == [attribution]


def test_attribution_of_an_unknown_session_is_404(client: TestClient) -> None:
    """Both routes name the missing session."""
    assert "no session" in client.post("/api/v1/sessions/nope/attribution").json()["detail"]
    assert client.get("/api/v1/sessions/nope/attribution").status_code == 404
