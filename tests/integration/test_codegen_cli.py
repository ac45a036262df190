"""``escai codegen``: generate, validate, feedback, learn and stats against a real database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escai.cli.codegen import app
from escai.store.engine import create_engine
from escai.store.queries import SessionFilter, list_sessions

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prd"
runner = CliRunner()


def _invoke(*arguments: str) -> tuple[int, str]:
    result = runner.invoke(app, list(arguments))
    return result.exit_code, result.output


async def _codegen_session_ids(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            page = await list_sessions(connection, SessionFilter(agent_id="escai-codegen"))
    finally:
        await engine.dispose()
    return [session.id for session in page.sessions]


def test_generate_writes_packages_stores_metrics_and_a_session(tmp_path: Path, database_url: str) -> None:
    """``generate`` writes one package per node, stores its phase metrics, and records the run as an ESCAI session."""
    code, output = _invoke(
        "generate", str(EXAMPLES / "cost_rollup.md"), "-o", str(tmp_path / "out"), "--no-validate",
        "--database-url", database_url, "--json",
    )  # fmt: skip
    assert code == 0, output
    report = json.loads(output)
    assert report["ok"] and len(report["nodes"]) == 2
    assert all((Path(node["directory"]) / "pyproject.toml").is_file() for node in report["nodes"])
    code, output = _invoke("stats", "--database-url", database_url, "--json")
    assert code == 0, output
    stats = json.loads(output)
    phases = {(row["node_kind"], row["phase"]): row["samples"] for row in stats["performance"]}
    assert phases[("reducer", "render")] == 1 and phases[("compute", "total")] == 1
    assert {row["template_name"] for row in stats["template_cache"]} >= {"node.py.j2", "contract.py.j2"}
    assert asyncio.run(_codegen_session_ids(database_url)) == [report["session_id"]]


def test_generate_reports_an_invalid_prd_clearly(tmp_path: Path) -> None:
    """A PRD without nodes is refused with exit status 2 and the spec's problem, and nothing is written."""
    prd = tmp_path / "empty.md"
    prd.write_text("# Nothing\n\n## Overview\n\nA PRD that describes no node.\n")
    code, output = _invoke("generate", str(prd), "-o", str(tmp_path / "out"), "--no-advisor", "--no-monitor")
    assert code == 2
    assert "error:" in output and "no nodes" in output
    assert not (tmp_path / "out").exists()


def test_validate_scores_each_package_and_fails_on_a_broken_one(tmp_path: Path) -> None:
    """``validate DIR`` checks every package under DIR; a package with a failing test makes the command fail."""
    code, output = _invoke(
        "generate", str(EXAMPLES / "cost_rollup.md"), "-o", str(tmp_path), "--no-validate", "--no-monitor"
    )
    assert code == 0, output
    code, output = _invoke("validate", str(tmp_path), "--json")
    assert code == 0, output
    reports = json.loads(output)
    assert len(reports) == 2 and all(report["score"] == 1.0 for report in reports)
    broken = Path(reports[0]["path"])
    test_file = next((broken / "tests").glob("test_*.py"))
    test_file.write_text(
        test_file.read_text() + '\n\ndef test_broken() -> None:\n    """Fails."""\n    assert 1 == 2\n'
    )
    code, output = _invoke("validate", str(broken))
    assert code == 1
    assert "FAIL" in output and "test_broken" in output


def test_validate_refuses_a_directory_without_packages(tmp_path: Path) -> None:
    """Pointing ``validate`` at a directory with no package is an error with a clear message."""
    code, output = _invoke("validate", str(tmp_path))
    assert code == 2
    assert "no package" in output


def test_feedback_is_recorded_and_shows_in_the_precision_statistics(database_url: str) -> None:
    """Reviews recorded with ``feedback`` appear per pattern in ``stats`` with their precision."""
    from escai.codegen.patterns import RULE_IDS

    pattern = sorted(RULE_IDS)[0]
    for kind in ("true_positive", "true_positive", "false_positive"):
        code, output = _invoke(
            "feedback", pattern, kind, "--file", "x.py", "--line", "3", "--database-url", database_url
        )
        assert code == 0, output
    code, output = _invoke("stats", "--database-url", database_url, "--json")
    row = next(row for row in json.loads(output)["pattern_feedback"] if row["pattern_id"] == pattern)
    assert (row["true_positives"], row["false_positives"]) == (2, 1)
    assert row["precision"] == pytest.approx(2 / 3)


def test_feedback_refuses_unknown_types_and_patterns(database_url: str) -> None:
    """An unknown feedback type or pattern id is refused before anything is written."""
    from escai.codegen.patterns import RULE_IDS

    code, output = _invoke("feedback", sorted(RULE_IDS)[0], "maybe", "--database-url", database_url)
    assert code == 2 and "unknown feedback type" in output
    code, output = _invoke("feedback", "no-such-pattern", "true_positive", "--database-url", database_url)
    assert code == 2 and "unknown pattern" in output


def test_stats_on_an_empty_database_says_there_is_no_data(database_url: str) -> None:
    """Before any run, every section of ``stats`` says it has no data instead of printing empty tables."""
    code, output = _invoke("stats", "--database-url", database_url)
    assert code == 0, output
    assert output.count("no data yet") == 4


def test_learn_records_outcomes_and_generate_then_consults_the_model(tmp_path: Path, database_url: str) -> None:
    """``learn`` fills the compatibility matrix, and its summary reports the model trained on it."""
    code, output = _invoke("learn", "--sizes", "2", "--database-url", database_url, "--json")
    assert code == 0, output
    summary = json.loads(output)
    assert summary["observed_pairs"] > 0 and summary["training_size"] > 0
    code, output = _invoke("stats", "--database-url", database_url, "--json")
    assert len(json.loads(output)["mixin_compatibility"]) == summary["observed_pairs"]
