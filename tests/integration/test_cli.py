"""The escai command: version, db upgrade, sessions list/show, serve's refusal of unsafe binds, and the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from tests.integration.conftest import event, make_settings
from typer.testing import CliRunner

from escai.cli.main import app
from escai.server.app import create_app

runner = CliRunner()


def test_version() -> None:
    """escai version prints the package version."""
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.output.startswith("escai 0.")


def test_db_upgrade_is_repeatable(tmp_path: Path) -> None:
    """escai db upgrade migrates an empty database to head, and a second run changes nothing."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    first = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert first.exit_code == 0, first.output
    assert "empty ->" in first.output
    second = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert second.exit_code == 0
    head = second.output.strip().split("-> ")[-1]
    assert f"{head} -> {head}" in second.output


def test_sessions_list_and_show(database_url: str, tmp_path: Path) -> None:
    """Sessions written through the API are listed and shown by the CLI, as tables and as JSON."""
    with TestClient(create_app(make_settings(database_url, tmp_path))) as client:
        client.post(
            "/api/v1/events",
            json=[event("cli-1", id="c1", type="session_start", content="the task"), event("cli-1", id="c2")],
        )
    listed = runner.invoke(app, ["sessions", "list", "--json", "--database-url", database_url])
    assert listed.exit_code == 0, listed.output
    assert [row["id"] for row in json.loads(listed.output)] == ["cli-1"]
    shown = runner.invoke(app, ["sessions", "show", "cli-1", "--json", "--database-url", database_url])
    document = json.loads(shown.output)
    assert document["task"] == "the task" and [item["id"] for item in document["events"]] == ["c1", "c2"]
    table = runner.invoke(app, ["sessions", "show", "cli-1", "--database-url", database_url])
    assert "the task" in table.output
    missing = runner.invoke(app, ["sessions", "show", "nope", "--database-url", database_url])
    assert missing.exit_code == 1 and "no session" in missing.output


def test_serve_refuses_public_bind_without_keys() -> None:
    """escai serve --host 0.0.0.0 without API keys exits with a clear error instead of serving."""
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "without authentication" in result.output


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """escai demo starts a server, runs real LangGraph/AutoGen agents, analyses them and reports successful and
    failed sessions with their confidence, goals, behaviour and the failures' most likely cause."""
    environment = {**os.environ, "ESCAI_HOME": str(tmp_path)}
    completed = subprocess.run(
        [sys.executable, "-m", "escai.cli.main", "demo", "--port", "0", "--json"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    statuses = sorted(row["status"] for row in summary["sessions"])
    assert statuses == ["completed", "completed", "completed", "failed", "failed"]
    teams = [row for row in summary["sessions"] if row["framework"] == "autogen"]
    assert len(teams) == 2 and all({"planner", "coder", "reviewer"} <= set(team["agents"]) for team in teams)
    graphs = [row for row in summary["sessions"] if row["framework"] == "langgraph"]
    assert [row["status"] for row in graphs] == ["completed", "failed"]
    assert all(row["events"] >= 10 for row in graphs + teams)
    assert (tmp_path / "escai.db").exists()
    # Every session was analysed through the server: confidence, beliefs, goal, behaviour, attribution of failures.
    for row in summary["sessions"]:
        assert 0 <= row["final_confidence"] <= 1 and row["beliefs"] >= 0 and row["revisions"] >= 0
        assert row["task_goal"] in {"active", "achieved", "blocked", "abandoned", None}
        assert row["behaviour"] and not row["behaviour"].startswith("The session's task")
        if row["status"] == "failed":
            assert row["attribution"]["agent"] in row["agents"] and row["attribution"]["step"] >= 0
            assert 0 < row["attribution"]["confidence"] <= 1
        else:
            assert row["attribution"] is None
    assert any(row["revisions"] > 0 for row in summary["sessions"] if row["status"] == "failed")
