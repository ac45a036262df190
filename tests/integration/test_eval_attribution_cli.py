"""``escai eval attribution`` on real Who&When logs: the JSON report, both log variants, figures beside baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from escai.cli.eval import app

WHO_AND_WHEN = (
    Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "who_and_when" / "Algorithm-Generated"
)
pytestmark = pytest.mark.skipif(not WHO_AND_WHEN.is_dir(), reason="Who&When logs not found in ../shared/datasets")
KEYS = {"n", "agent_accuracy", "step_accuracy", "step_within_1", "step_within_3", "baselines", "methods"}
PUBLISHED_AGENT, PUBLISHED_STEP = 0.535, 0.142  # Who&When paper, best with GPT-4o


def _logs(count: int) -> list[Path]:
    return sorted(WHO_AND_WHEN.glob("*.json"), key=lambda path: int(path.stem))[:count]


def _run_json(*arguments: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["attribution", *arguments, "--format", "who-and-when", "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


def test_json_report_has_the_documented_keys_and_every_baseline() -> None:
    """On 30 real logs the JSON object has the issue's keys, every baseline and every method."""
    report = _run_json(*map(str, _logs(30)))
    assert report.keys() >= KEYS
    assert report["n"] == 30
    assert set(report["baselines"]) == {
        "majority_agent",
        "first_turn_of_most_frequent_agent",
        "always_step_1",
        "always_first_step",
        "random",
    }
    assert set(report["methods"]) >= {"cues", "blame", "counterfactual", "combined_label_free", "learned", "combined"}
    for figures in [report, *report["baselines"].values(), *report["methods"].values()]:
        assert all(0.0 <= figures[key] <= 1.0 for key in KEYS - {"n", "baselines", "methods"})


def test_agent_in_role_variant_gives_the_same_figures(tmp_path: Path) -> None:
    """Logs rewritten with the agent in ``role`` (the Magentic-One variant) score exactly as the originals."""
    originals = _logs(15)
    for path in originals:
        record = json.loads(path.read_text())
        record["history"] = [
            {"role": entry.get("name") or entry["role"], "content": entry["content"]} for entry in record["history"]
        ]
        (tmp_path / path.name).write_text(json.dumps(record))
    original = _run_json(*map(str, originals))
    rewritten = _run_json(str(tmp_path))
    for key in ("n", "agent_accuracy", "step_accuracy", "step_within_1", "step_within_3"):
        assert rewritten["methods"]["combined_label_free"][key] == original["methods"]["combined_label_free"][key]


def test_table_output_names_the_headline_and_baselines() -> None:
    """Without --json the command prints the headline line and a table with baselines and methods."""
    result = CliRunner().invoke(app, ["attribution", *map(str, _logs(12)), "--format", "who-and-when"])
    assert result.exit_code == 0, result.output
    assert "n=12" in result.output and "always_step_1" in result.output and "counterfactual" in result.output


@pytest.mark.slow
def test_all_logs_beat_published_results_and_baselines() -> None:
    """On all 126 logs the headline beats the published GPT-4o figures and every trivial baseline."""
    report = _run_json(str(WHO_AND_WHEN))
    assert report["n"] == 126
    assert report["agent_accuracy"] > PUBLISHED_AGENT and report["step_accuracy"] > PUBLISHED_STEP
    label_free = report["methods"]["combined_label_free"]
    for baseline in report["baselines"].values():
        assert report["agent_accuracy"] > baseline["agent_accuracy"]
        assert report["step_accuracy"] > baseline["step_accuracy"]
        assert label_free["step_accuracy"] > baseline["step_accuracy"]
