"""``escai analyze --patterns`` and the behaviour parts of ``escai analyze SESSION_ID`` on real SWE-bench runs.

Twelve mini-swe-agent runs (six resolved, six not) from ``../shared/datasets`` are imported with ``escai import``
(skipped, saying so, when the data is absent); the tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest
from rich.console import Console
from tests.integration.test_analyze_cli import run_analyze
from tests.integration.test_epistemic_api import MINI_SWE, escai_cli
from typer.testing import CliRunner

from escai.cli import analyze
from escai.store.causal_store import RelationshipFilter, list_relationships
from escai.store.engine import create_engine
from escai.store.pattern_store import PatternFilter, StoredPattern, list_patterns

needs_swe = pytest.mark.skipif(
    not MINI_SWE.is_file(), reason=f"the mini-swe-agent runs are not at {MINI_SWE}: behaviour CLI tests skipped"
)
RUNS_PER_OUTCOME = 6


def import_swe_runs(database_url: str, folder: Path, per_outcome: int = RUNS_PER_OUTCOME) -> None:
    """Import the first ``per_outcome`` resolved and unresolved mini-swe-agent runs with ``escai import``."""
    folder.mkdir(parents=True, exist_ok=True)
    chosen: dict[bool, list[str]] = {True: [], False: []}
    with gzip.open(MINI_SWE, "rt") as lines:
        for line in lines:
            bucket = chosen[bool(json.loads(line)["resolved"])]
            if len(bucket) < per_outcome:
                bucket.append(line)
            if all(len(found) == per_outcome for found in chosen.values()):
                break
    (folder / "swe.jsonl").write_text("".join(chosen[True] + chosen[False]))
    result = CliRunner().invoke(escai_cli, ["import", str(folder), "--json", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sessions"] == 2 * per_outcome


async def stored_overview(database_url: str) -> tuple[int, list[StoredPattern], int]:
    """How many patterns are stored, the significant ones (corrected p <= 0.05), and how many causal relationships."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            _, total = await list_patterns(connection, PatternFilter(), limit=1)
            significant, _ = await list_patterns(connection, PatternFilter(max_p_adjusted=0.05), limit=1000)
            relationships = await list_relationships(connection, RelationshipFilter())
    finally:
        await engine.dispose()
    return total, significant, len(relationships)


@needs_swe
@pytest.mark.slow
def test_patterns_then_session_shows_anomaly_patterns_loops_and_attribution(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--patterns prints and stores patterns, anomalies, clusters and causal links; a session then shows its part
    (imports twelve runs and mines them twice: slow)."""
    monkeypatch.setattr(analyze, "console", Console(width=180))
    import_swe_runs(database_url, tmp_path / "data")
    result = run_analyze("--patterns", "--json", "--database-url", database_url)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert set(document) == {"behaviour", "top_patterns", "anomalous_sessions", "clusters", "causal"}
    assert document["behaviour"]["labelled_sessions"] == 12 and document["behaviour"]["failed_sessions"] == 6
    assert document["top_patterns"], "twelve runs with both outcomes give testable patterns"
    for pattern in document["top_patterns"]:
        assert pattern["support"] >= 2 and 0 <= pattern["success_rate"] <= 1
        assert pattern["p_value_adjusted"] >= pattern["p_value"] and len(pattern["session_ids"]) == pattern["support"]
        assert pattern["direction"] == ("failure" if pattern["lift_toward_failure"] > 1 else "success")
    assert sum(cluster["size"] for cluster in document["clusters"]) in (0, 12)
    anomalous = [item["session_id"] for item in document["anomalous_sessions"]]
    assert anomalous, "the analyser flags the most unusual of twelve runs"
    causal = document["causal"]
    assert causal["sessions"] == 12 and causal["relationships"] >= len(causal["top_relationships"])
    confidences = [found["confidence"] for found in causal["top_relationships"]]
    assert confidences == sorted(confidences, reverse=True)
    stored_patterns, significant, relationship_count = asyncio.run(stored_overview(database_url))
    assert stored_patterns == document["behaviour"]["stored_patterns"] and relationship_count == causal["relationships"]

    report = run_analyze("--patterns", "--database-url", database_url)
    assert report.exit_code == 0, report.output
    for part in ("Behaviour analysis of 12 sessions", "Patterns that separate", "Anomalous sessions: ", "p adj"):
        assert part in report.output, part

    session_id = anomalous[0]
    shown = json.loads(run_analyze(session_id, "--json", "--method", "light", "--database-url", database_url).output)
    assert shown["stored"] is True and shown["anomaly"]["is_anomalous"] is True
    expected = next(item for item in document["anomalous_sessions"] if item["session_id"] == session_id)
    assert shown["anomaly"]["score"] == pytest.approx(expected["score"])
    assert shown["anomaly"]["explanation"] == expected["explanation"]
    assert {pattern["id"] for pattern in shown["patterns"]} == {
        pattern.id for pattern in significant if session_id in pattern.session_ids
    }
    text = run_analyze(session_id, "--method", "light", "--database-url", database_url).output
    assert f"Anomaly score {expected['score']:.2f} (anomalous" in text
    assert "Loops" in text and "escai analyze --patterns" not in text
    if shown["attribution"] is not None:
        top = shown["attribution"]["candidates"][0]
        assert "Failure attribution (combined(" in text and f"{top['confidence']:.2f}" in text


@needs_swe
def test_patterns_refuses_too_few_sessions_with_outcomes(database_url: str, tmp_path: Path) -> None:
    """With fewer sessions with outcomes than the analysis needs, --patterns exits 1 saying how many it found."""
    import_swe_runs(database_url, tmp_path / "data", per_outcome=1)
    for extra in ([], ["--json"]):
        result = run_analyze("--patterns", *extra, "--database-url", database_url)
        assert result.exit_code == 1
        message = " ".join(result.output.split())  # the console wraps long lines
        assert "2 stored session(s) with a known outcome for all agents; at least 4 needed" in message
