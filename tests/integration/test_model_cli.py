"""``escai model train|list|drift``: train from files and from the database, list versions, check drift."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escai.cli.model import app
from escai.ingest.importers.runner import run_import
from escai.settings import Settings

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
TAU_BENCH = DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz"


@pytest.fixture(autouse=True)
def _dataset() -> None:
    """Skip when the shared data is not there."""
    if not TAU_BENCH.exists():
        pytest.skip(f"dataset missing: {TAU_BENCH}")


@pytest.mark.slow
def test_train_from_files_registers_versions_that_list_shows(tmp_path: Path) -> None:
    """Two trainings make v0001 and v0002 with CV metrics in the metadata; list shows both, newest last."""
    runner = CliRunner()
    home = ["--home", str(tmp_path)]
    assert "no prediction model" in runner.invoke(app, ["list", *home]).output
    first = runner.invoke(app, ["train", "--from", str(TAU_BENCH), "--format", "tau-bench", "--folds", "2", *home])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("registered v0001: 200 runs (84 succeeded)")
    second = runner.invoke(app, ["train", "--from", str(TAU_BENCH), "--folds", "0", "--json", *home])
    assert json.loads(second.output)["version"] == "v0002"
    listed = json.loads(runner.invoke(app, ["list", "--json", *home]).output)
    assert [item["version"] for item in listed] == ["v0001", "v0002"]
    assert listed[0]["training_n"] == 200 and listed[0]["details"]["tasks"] == 50
    assert set(listed[0]["cv_metrics"]["auroc_at"]) == {"0.25", "0.5", "0.75"} and listed[1]["cv_metrics"] == {}
    table = runner.invoke(app, ["list", *home], env={"COLUMNS": "160"}).output
    assert "v0001" in table and "v0002" in table
    drift = json.loads(runner.invoke(app, ["drift", "--from", str(TAU_BENCH), "--json", *home]).output)
    assert drift["sessions"] == 200 and drift["drifted"] == []  # the training data has not drifted from itself
    assert drift["retrain"] is False and max(drift["psi"].values()) < 0.1


@pytest.mark.slow
def test_train_from_the_database_on_both_engines(tmp_path: Path, database_url: str) -> None:
    """Imported sessions with outcomes train a model straight from the database."""
    settings = Settings(database_url=database_url, home=tmp_path)
    with gzip.open(TAU_BENCH, "rt") as handle:
        records = [record for record in json.load(handle) if record["task_id"] < 10]  # 10 tasks x 4 trials
    subset = tmp_path / "subset.json"
    subset.write_text(json.dumps(records))
    summary = asyncio.run(run_import(settings, [subset], "tau-bench"))
    assert summary.sessions == 40
    result = CliRunner().invoke(
        app, ["train", "--database-url", database_url, "--home", str(tmp_path), "--folds", "0", "--json"]
    )
    assert result.exit_code == 0, result.output
    metadata = json.loads(result.output)
    assert metadata["training_n"] == 40 and metadata["details"]["source"] == "database"
    assert metadata["details"]["tasks"] == 10


def test_drift_without_a_model_and_training_without_runs_fail_clearly(tmp_path: Path) -> None:
    """Drift needs a model; training on an empty database says how many runs are needed."""
    runner = CliRunner()
    missing = runner.invoke(app, ["drift", "--from", str(TAU_BENCH), "--home", str(tmp_path)])
    assert missing.exit_code == 1 and "escai model train" in missing.output
    empty = runner.invoke(
        app, ["train", "--home", str(tmp_path), "--database-url", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"]
    )
    assert empty.exit_code == 1 and "at least" in empty.output
