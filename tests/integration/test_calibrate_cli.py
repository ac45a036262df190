"""``escai model calibrate``: fit the confidence calibrator on labelled runs; the live analysis then applies it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from escai.analysis.epistemic.calibration import ConfidenceCalibrator
from escai.cli.model import app
from escai.ingest.importers import read_runs
from escai.server.app import create_app
from escai.settings import Settings

TAU_BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "tau_bench_historical"


@pytest.mark.skipif(not TAU_BENCH.exists(), reason="../shared/datasets is not present")
def test_calibrating_from_files_saves_a_calibrator_the_server_applies(tmp_path: Path) -> None:
    """The calibrator is fitted on 200 tau-bench runs and saved; a server's live states carry raw and calibrated."""
    result = CliRunner().invoke(
        app, ["calibrate", "--from", str(TAU_BENCH / "gpt-4o-airline.json.gz"), "--home", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["sessions"] == 200 and document["trained_on"] == 800
    settings = Settings(home=tmp_path, batch_timeout_ms=5.0)
    calibrator = ConfidenceCalibrator.load(settings.calibration_path)
    run = next(read_runs(TAU_BENCH / "gpt-4o-airline.json.gz", "tau-bench"))
    with TestClient(create_app(settings)) as client:
        client.post("/api/v1/events", json=[event.model_dump(mode="json") for event in run.events[:6]])
        service = client.app.state.service  # type: ignore[attr-defined]
        client.portal.call(service.analysis.stop)  # type: ignore[union-attr]
        response = client.get(f"/api/v1/sessions/{run.session_id}/epistemic")
    states = response.json()["states"]
    assert states
    for state in states:
        assert "raw_confidence" in state["signals"]
        assert state["confidence"] == calibrator.calibrate(state["signals"])


def test_calibrating_without_labelled_sessions_is_a_clear_error(tmp_path: Path) -> None:
    """An empty database has no outcomes to fit on: exit 1 with the reason."""
    result = CliRunner().invoke(app, ["calibrate", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert "both outcomes" in result.output
