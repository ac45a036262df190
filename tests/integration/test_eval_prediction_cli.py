"""``escai eval prediction`` on real tau-bench runs: the JSON object, the table, and refusing unlabelled data."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from escai.cli.eval_prediction import prediction_command

TAU_BENCH = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "datasets"
    / "tau_bench_historical"
    / "gpt-4o-airline.json.gz"
)


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    """A local Typer app with the command registered as ``prediction`` (as ``escai eval`` registers it)."""
    if not TAU_BENCH.exists():
        pytest.skip(f"dataset missing: {TAU_BENCH}")
    app = typer.Typer()

    @app.callback()
    def group() -> None:
        """Evaluate."""

    app.command("prediction")(prediction_command)
    return app


def test_json_report_has_the_agreed_keys_and_beats_the_prior(cli: typer.Typer) -> None:
    """--json prints one object with n, auroc, brier, auroc_at at 0.25/0.5/0.75 and both baselines."""
    result = CliRunner().invoke(cli, ["prediction", str(TAU_BENCH), "--format", "tau-bench", "--folds", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n"] == 200 and report["positives"] == 84 and report["groups"] == 50 and report["folds"] == 3
    assert set(report["auroc_at"]) == {"0.25", "0.5", "0.75"}
    assert set(report["baselines"]) == {"class_prior", "length_only"}
    for scores in (report, *report["baselines"].values(), *report["models"].values()):
        assert 0 <= scores["brier"] <= 1 and set(scores["auroc_at"]) == {"0.25", "0.5", "0.75"}
    assert report["baselines"]["class_prior"]["auroc"] == pytest.approx(0.5, abs=0.05)
    assert report["auroc"] > 0.65 and report["brier"] < report["baselines"]["class_prior"]["brier"]
    assert report["remaining_seconds_mae_at"] is None and report["timed_runs"] == 0  # no recorded times
    assert all(value > 0 for value in report["remaining_steps_mae_at"].values())
    assert sum(row["count"] for row in report["calibration"]) == 200


def test_table_names_method_models_and_baselines(cli: typer.Typer) -> None:
    """Without --json a headline and a table with the ensemble, both models and both baselines are printed."""
    result = CliRunner().invoke(cli, ["prediction", str(TAU_BENCH), "--folds", "2"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("n=200")
    for name in ("ensemble", "lightgbm", "logistic", "class_prior", "length_only", "remaining steps MAE"):
        assert name in result.output


def test_runs_without_outcomes_are_refused(cli: typer.Typer, tmp_path: Path) -> None:
    """A file whose runs carry no reward cannot be evaluated: exit code 1 and the reason."""
    run = {"task_id": 1, "trial": 0, "reward": None, "info": {}, "traj": [{"role": "user", "content": "hi"}]}
    path = tmp_path / "unlabelled.json.gz"
    with gzip.open(path, "wt") as handle:
        json.dump([run, {**run, "task_id": 2}], handle)
    result = CliRunner().invoke(cli, ["prediction", str(path), "--format", "tau-bench", "--json"])
    assert result.exit_code == 1
    assert "at least" in result.output
    assert CliRunner().invoke(cli, ["prediction", str(path), "--format", "nonsense"]).exit_code == 2
