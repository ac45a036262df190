"""Sequence abstraction, loops, anomalies and clusters, on hand-made events and on real SWE-bench and tau-bench runs."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from escai.analysis.behaviour import session_features, step_features
from escai.analysis.behaviour.analyser import BehaviourAnalyser, BehaviourConfig, LabelledSession, separating_patterns
from escai.analysis.behaviour.clusters import cluster_sessions
from escai.analysis.behaviour.loops import detect_loops
from escai.analysis.behaviour.sequences import abstract_session, command_program
from escai.ingest.importers import ImportedRun, read_runs
from escai.model.events import AgentEvent, EventStatus, EventType

DATASETS = Path(os.environ.get("ESCAI_DATASETS", Path(__file__).resolve().parents[2].parent / "shared" / "datasets"))
SWE_BENCH = DATASETS / "mini_swe_agent_swebench_verified" / "trajectories.jsonl.gz"
TAU_BENCH = DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz"
START = datetime(2025, 1, 1, tzinfo=UTC)


def _labelled(path: Path, limit: int | None = None) -> list[LabelledSession]:
    if not path.exists():
        pytest.skip(f"dataset missing: {path}")
    runs = [run for run in read_runs(path, "auto") if isinstance(run, ImportedRun)][:limit]
    return [LabelledSession(run.session_id, run.events, run.annotations["labels"]["success"]) for run in runs]


def _shell(command: str, exit_code: int, index: int) -> list[AgentEvent]:
    when = START + timedelta(seconds=index)
    call = AgentEvent(
        session_id="s",
        agent_id="a",
        type=EventType.TOOL_CALL,
        name="bash",
        content=command,
        attributes={"gen_ai.tool.call.arguments": {"command": command}},
        timestamp=when,
    )
    result = AgentEvent(
        session_id="s",
        agent_id="a",
        type=EventType.TOOL_RESULT,
        name="bash",
        content="out",
        attributes={"process.exit.code": str(exit_code)},
        timestamp=when,
    )
    return [call, result]


@pytest.mark.parametrize(
    ("command", "program"),
    [
        ("cd /repo && python -m pytest tests/x.py", "pytest"),
        ("FOO=1 timeout 30 python3 reproduce.py", "python"),
        ("cat <<'EOF' > fix.py\nprint(1)\nEOF", "write_file"),
        ("nl -ba a.py | sed -n '1,5p'", "nl"),
        ("/usr/bin/grep -rn foo .", "grep"),
        ("./tests/runtests.py app", "python"),
        ("export X=1\n", "sh"),
    ],
)
def test_command_program_names_the_program_run(command: str, program: str) -> None:
    """Shell setup and wrappers are skipped and the program that does the work names the action."""
    assert command_program(command) == program


def test_tool_calls_pair_with_results_and_outcomes_leave_out_the_session_end() -> None:
    """A call and its result make one step with the exit code's outcome; the end event's status never appears."""
    events = [
        AgentEvent(session_id="s", agent_id="a", type=EventType.SESSION_START, timestamp=START),
        AgentEvent(session_id="s", agent_id="a", type=EventType.THOUGHT, content="look", timestamp=START),
        *_shell("grep -n x a.py", 0, 1),
        *_shell("pytest", 1, 2),
        AgentEvent(session_id="s", agent_id="a", type=EventType.SESSION_END, status=EventStatus.ERROR, timestamp=START),
    ]
    sequence = abstract_session(events)
    assert sequence.actions == ("grep:ok", "pytest:error")
    assert len(sequence.steps[0].event_ids) == 3  # the thought is folded into the call it led to
    assert len(step_features(events)) == 2 and step_features(events)[1]["is_error"] == 1.0
    assert session_features(events)["tool_error_rate"] == 0.5


def test_loops_find_exact_repeats_and_cycles() -> None:
    """The same command three times is an exact repeat; an edit-run pair repeated is an exact cycle."""
    events = [*_shell("ls", 0, 0)]
    events += [event for index in range(3) for event in _shell("pytest t.py", 1, 1 + index)]
    for index in range(3):
        events += _shell("sed -i s/a/b/ f.py", 0, 10 + 2 * index) + _shell("python f.py", 1, 11 + 2 * index)
    loops = detect_loops(abstract_session(events).steps)
    repeat = next(loop for loop in loops if loop.kind == "repeat" and loop.exact)
    assert (repeat.start, repeat.repetitions, repeat.errors) == (1, 3, 3)
    assert "ran 3 times in a row" in repeat.description
    cycle = next(loop for loop in loops if loop.kind == "cycle" and loop.exact)
    assert cycle.actions == ("sed:ok", "python:error") and cycle.repetitions == 3 and cycle.start == 4
    assert detect_loops(abstract_session(_shell("ls", 0, 0) + _shell("pwd", 0, 1)).steps) == []


@pytest.mark.slow
def test_swe_bench_analysis_finds_patterns_anomalies_and_clusters() -> None:
    """On 250 real runs, patterns come with corrected p-values, anomaly scores lie in [0, 1] with reasons."""
    sessions = _labelled(SWE_BENCH)
    report = BehaviourAnalyser().analyse(sessions)
    assert len(report.sequences) == 250
    assert report.patterns and all(
        pattern.p_value is not None and pattern.p_value <= (pattern.p_value_adjusted or 0) <= 1
        for pattern in report.patterns
    )
    top = separating_patterns(report.patterns, 5)
    assert top[0].p_value_adjusted == min(pattern.p_value_adjusted or 1 for pattern in report.patterns)
    scores = list(report.session_anomalies.values())
    assert len(scores) == 250 and all(0 <= score.score <= 1 for score in scores)
    assert 0 < sum(score.is_anomalous for score in scores) < 125
    most = max(scores, key=lambda score: score.score)
    assert most.unusual and most.unusual[0].description in most.explanation
    assert report.clustering is not None and 2 <= report.clustering.k <= 8


def test_anomalous_sessions_are_the_unusual_ones() -> None:
    """The most anomalous tau-bench sessions sit further from the median session than the least anomalous ones."""
    sessions = _labelled(TAU_BENCH)
    report = BehaviourAnalyser(BehaviourConfig(max_length=3)).analyse(sessions)
    ranked = sorted(report.session_anomalies.values(), key=lambda score: score.score)
    strongest = [abs(score.unusual[0].z_score) if score.unusual else 0.0 for score in ranked[-10:]]
    weakest = [abs(score.unusual[0].z_score) if score.unusual else 0.0 for score in ranked[:10]]
    assert sum(strongest) / 10 > 2 * (sum(weakest) / 10 + 0.1)
    per_session = report.step_anomalies[ranked[-1].key]
    assert per_session and per_session == sorted(per_session, key=lambda anomaly: -anomaly.score)


def test_k_is_chosen_by_silhouette_not_fixed() -> None:
    """Three well-separated groups of sessions give k = 3, the silhouette's maximum, and each group its own cluster."""
    rows: list[dict[str, Any]] = []
    for group, (steps, errors) in enumerate([(10.0, 0.0), (60.0, 0.5), (200.0, 0.9)]):
        for offset in range(6):
            rows.append({"steps": steps + offset, "tool_error_rate": errors + offset / 100, "group": group})
    features = [{key: value for key, value in row.items() if key != "group"} for row in rows]
    outcomes: list[bool | None] = [row["group"] == 0 for row in rows]
    clustering = cluster_sessions([str(index) for index in range(len(rows))], features, outcomes)
    assert clustering is not None and clustering.k == 3
    assert clustering.silhouettes[3] == max(clustering.silhouettes.values())
    assert sorted(cluster.size for cluster in clustering.clusters) == [6, 6, 6]
    assert sorted(cluster.success_rate or 0.0 for cluster in clustering.clusters) == [0.0, 0.0, 1.0]
