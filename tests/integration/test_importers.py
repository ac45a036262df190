"""Importers: every format on the real data sets in ../shared/datasets, text parsing, detection, and storage.

The data sets live outside the repository (``../shared/datasets`` relative to its root); tests that need them
are skipped, saying so, when the folder is absent. Storage tests import a few runs of every format into both
databases and read sessions and annotations back through :mod:`escai.store.queries`.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.integration.conftest import make_settings
from typer.testing import CliRunner

from escai.cli.main import app
from escai.ingest.importers import (
    IMPORTERS,
    ImportedRun,
    ImporterError,
    SkippedRecord,
    Source,
    UnrecognisedFormatError,
    detect_format,
    otel_json,
    read_runs,
    who_and_when,
)
from escai.ingest.importers.base import TOOL_ARGUMENTS
from escai.ingest.importers.logsplit import split_log
from escai.ingest.importers.runner import ImportProgress, import_files
from escai.ingest.importers.textparse import code_calls, execution_exit_code, mini_swe_action, mini_swe_observation
from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import SessionStatus
from escai.model.semconv import PROCESS_EXIT_CODE
from escai.service import EscaiService
from escai.store.engine import create_engine
from escai.store.queries import EventFilter, count_events, get_session, list_events

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
WHO_AND_WHEN = DATASETS / "who_and_when" / "Algorithm-Generated"
TAU_BENCH = DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz"
MINI_SWE = DATASETS / "mini_swe_agent_swebench_verified" / "trajectories.jsonl.gz"
SWE_AGENT = DATASETS / "swe_agent_demos" / "trajectories.jsonl.gz"
MAST = DATASETS / "mast_mad_human" / "MAD_human_labelled_dataset.json.gz"
LANGFUSE = DATASETS / "framework_traces" / "langfuse_export"
OTEL = DATASETS / "framework_traces" / "any_agent_otel"

needs_data = pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"the shared data sets are not at {DATASETS}: importer tests on real data skipped"
)


def runs_of(path: Path, format_name: str = "auto", limit: int | None = None) -> list[ImportedRun]:
    """The converted runs of a file (skipped records fail the test: the real data converts whole)."""
    found: list[ImportedRun] = []
    for item in read_runs(path, format_name):
        assert not isinstance(item, SkippedRecord), item
        found.append(item)
        if limit is not None and len(found) >= limit:
            break
    return found


def by_id(run: ImportedRun) -> dict[str, AgentEvent]:
    """The run's events by id."""
    return {event.id: event for event in run.events}


# --- text parsing ----------------------------------------------------------------------------------------------


def test_code_calls_are_parsed_from_fenced_blocks() -> None:
    """Fenced python and sh blocks are tool calls with their code; other fences (output, text) are not."""
    text = "Plan:\n```python\nprint(1)\n```\nthen\n```sh\nls -l\n```\n```text\nnot code\n```\n```\nplain\n```"
    calls = code_calls(text)
    assert [(call.tool, call.code) for call in calls] == [("python", "print(1)"), ("sh", "ls -l")]


def test_execution_exit_codes_of_both_executors() -> None:
    """AG2's ``exitcode: N`` and Magentic-One's POSIX exit code reports are read; other text is not a result."""
    assert execution_exit_code("exitcode: 1 (execution failed)\nCode output: Traceback") == 1
    assert execution_exit_code("exitcode: 0 (execution succeeded)\nCode output: 4\n") == 0
    assert execution_exit_code("The script ran, then exited with an error (POSIX exit code: 2)\nIts output was:") == 2
    assert execution_exit_code("The script ran but produced no output to console. The POSIX exit code was: 0.") == 0
    assert execution_exit_code("I think the exitcode: 1 above means we failed") is None


def test_mini_swe_agent_action_and_observation_parsing() -> None:
    """One bash block is the command; two blocks are no command; an observation gives return code and output."""
    single = mini_swe_action("THOUGHT: look around.\n\n```bash\nls -la && pwd\n```")
    assert (single.thought, single.command, single.blocks) == ("look around.", "ls -la && pwd", 1)
    double = mini_swe_action("THOUGHT: two.\n```bash\nls\n```\n```bash\npwd\n```")
    assert (double.command, double.blocks) == (None, 2)
    observation = mini_swe_observation("<returncode>2</returncode>\n<output>\nno such file\n</output>")
    assert observation is not None and (observation.returncode, observation.output) == (2, "no such file\n")
    assert mini_swe_observation("Please always provide EXACTLY ONE action") is None


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"role": "Orchestrator (thought)"}, ("Orchestrator", EventType.THOUGHT, None)),
        ({"role": "Orchestrator (-> WebSurfer)"}, ("Orchestrator", EventType.HANDOFF, "WebSurfer")),
        ({"role": "Orchestrator (termination condition)"}, ("Orchestrator", EventType.MESSAGE, None)),
        ({"role": "WebSurfer"}, ("WebSurfer", EventType.MESSAGE, None)),
        ({"role": "human"}, ("human", EventType.MESSAGE, None)),
        ({"role": "user", "name": "Verification_Expert"}, ("Verification_Expert", EventType.MESSAGE, None)),
    ],
)
def test_who_and_when_speaker_variants(message: dict[str, Any], expected: tuple[str, EventType, str | None]) -> None:
    """The agent comes from ``name`` when present, else from ``role`` with its parenthesised note parsed."""
    speaker = who_and_when.parse_speaker(message)
    assert (speaker.agent, speaker.kind, speaker.target) == expected


def test_who_and_when_role_variant_record() -> None:
    """A Hand-Crafted (agent-in-role) log: thought, hand-off, code call and a failed ComputerTerminal result."""
    record = {
        "question": "How many?",
        "question_ID": "q-1",
        "is_correct": False,
        "mistake_agent": "Assistant",
        "mistake_step": "3",
        "mistake_reason": "wrong code",
        "history": [
            {"role": "human", "content": "How many?"},
            {"role": "Orchestrator (thought)", "content": "Ask the assistant."},
            {"role": "Orchestrator (-> Assistant)", "content": "Please compute it."},
            {"role": "Assistant", "content": "Run this:\n```python\nprint(1/0)\n```"},
            {"role": "ComputerTerminal", "content": "The script ran, then exited with an error (POSIX exit code: 1)"},
        ],
    }
    run = who_and_when.convert(record, "document")
    events = by_id(run)
    turns = [event for event in run.events if event.type not in (EventType.SESSION_START, EventType.SESSION_END)]
    assert [(event.type, event.agent_id, event.step_index) for event in turns] == [
        (EventType.MESSAGE, "human", 0),
        (EventType.THOUGHT, "Orchestrator", 1),
        (EventType.HANDOFF, "Orchestrator", 2),
        (EventType.MESSAGE, "Assistant", 3),
        (EventType.TOOL_CALL, "Assistant", 3),
        (EventType.TOOL_RESULT, "ComputerTerminal", 4),
    ]
    assert turns[2].attributes[semconv.ESCAI_HANDOFF_TARGET] == "Assistant"
    call, result = turns[4], turns[5]
    assert (call.name, call.content, call.parent_id) == ("python", "print(1/0)", turns[3].id)
    assert result.parent_id == call.id and result.status is EventStatus.ERROR
    assert result.attributes[PROCESS_EXIT_CODE] == 1
    assert run.annotations["variant"] == "agent-in-role" and run.events[0].framework == "magentic-one"
    assert run.annotations["labels"] == {
        "success": False,
        "mistake_agent": "Assistant",
        "mistake_step": 3,
        "mistake_reason": "wrong code",
    }
    assert events[run.events[0].id].attributes[semconv.ESCAI_ANNOTATIONS] == run.annotations


def test_log_split_fallback_to_paragraph_chunks() -> None:
    """A log without speaker lines, headers or timestamps is cut into paragraph chunks spoken by ``unknown``."""
    log = "\n\n".join(f"paragraph {index} " + "x" * 900 for index in range(5))
    turns, heuristic = split_log(log)
    assert heuristic == "paragraphs"
    assert [turn.agent for turn in turns] == ["unknown"] * 3
    assert "paragraph 0" in turns[0].text and "paragraph 4" in turns[-1].text


def test_log_split_reads_speakers_and_timestamps() -> None:
    """Bracketed timestamp headers give the speaker, the time, hand-offs and error levels."""
    log = (
        "setup noise\n"
        "[2025-01-17 11:36:43 INFO] Programmer: writing code\nmore code\n"
        "[2025-17-01 11:36:44 ERROR] Navigator->Planner: found it\n"
        "[2025-01-17 11:36:45 INFO] Inner-Editor-Assistant's Response: done\n"
    )
    turns, heuristic = split_log(log)
    assert heuristic == "bracketed"
    assert [(turn.agent, turn.kind, turn.target) for turn in turns] == [
        ("environment", EventType.MESSAGE, None),
        ("Programmer", EventType.MESSAGE, None),
        ("Navigator", EventType.HANDOFF, "Planner"),
        ("Editor", EventType.MESSAGE, None),
    ]
    assert turns[1].text == "Programmer: writing code\nmore code"
    assert turns[2].failed and turns[2].timestamp is not None and turns[2].timestamp.month == 1


# --- each format on the real data -----------------------------------------------------------------------------


@needs_data
def test_who_and_when_real_logs() -> None:
    """Every Who&When log converts; steps index ``history``; labels are kept; executor results carry exit codes."""
    statuses: Counter[EventStatus] = Counter()
    for path in sorted(WHO_AND_WHEN.glob("*.json")):
        record = json.loads(path.read_text())
        (run,) = runs_of(path)
        steps = {event.step_index for event in run.events if event.step_index is not None}
        assert steps == set(range(len(record["history"])))
        labels = run.annotations["labels"]
        assert labels["mistake_agent"] == record["mistake_agent"]
        assert labels["mistake_step"] == int(record["mistake_step"]) and labels["success"] is False
        assert run.events[-1].type is EventType.SESSION_END
        assert run.events[-1].attributes[semconv.ESCAI_OUTCOME_SUCCESS] is False
        events = by_id(run)
        for event in run.events:
            if event.type is EventType.TOOL_RESULT:
                statuses[event.status] += 1
                if event.parent_id is not None and events[event.parent_id].type is EventType.TOOL_CALL:
                    assert events[event.parent_id].step_index < event.step_index  # type: ignore[operator]
    # 146 successful and 90 failed executions are reported in these logs (exitcode 0 / non-zero).
    assert statuses[EventStatus.OK] == 146 and statuses[EventStatus.ERROR] == 90


@needs_data
def test_tau_bench_real_runs() -> None:
    """tau-bench: tool results link to their calls by id, ``Error:`` answers fail, reward 1.0 is success."""
    runs = runs_of(TAU_BENCH)
    records = json.loads(gzip.decompress(TAU_BENCH.read_bytes()))
    assert len(runs) == 200
    assert sum(run.annotations["labels"]["success"] for run in runs) == 84
    errors = sum(m["content"].startswith("Error") for r in records for m in r["traj"] if m["role"] == "tool")
    assert sum(event.status is EventStatus.ERROR for run in runs for event in run.events) == errors + 116
    for run in runs[:20]:
        events = by_id(run)
        assert {event.agent_id for event in run.events} <= {"assistant", "user", "system"}
        for event in run.events:
            if event.type is EventType.TOOL_RESULT:
                call = events[event.parent_id or ""]
                assert call.type is EventType.TOOL_CALL and call.name == event.name
                assert call.attributes[semconv.GEN_AI_TOOL_CALL_ID] == event.attributes[semconv.GEN_AI_TOOL_CALL_ID]
                assert isinstance(call.attributes[TOOL_ARGUMENTS], dict)
        end = run.events[-1]
        assert end.attributes[semconv.ESCAI_OUTCOME_SCORE] == run.annotations["labels"]["reward"]


@needs_data
def test_mini_swe_agent_real_runs() -> None:
    """mini-swe-agent: thought + bash call per response, failed commands fail, real times, resolved = success."""
    runs = runs_of(MINI_SWE, limit=5)
    with gzip.open(MINI_SWE, "rt") as lines:
        first = json.loads(lines.readline())
    assert runs[0].annotations["labels"]["resolved"] is first["resolved"]
    assert runs[0].annotations["labels"]["report"] == first["report"]
    for run in runs:
        events = by_id(run)
        times = [event.timestamp for event in run.events]
        assert times == sorted(times) and times[0].year >= 2025
        thoughts = [event for event in run.events if event.type is EventType.THOUGHT]
        assert thoughts and all(event.tokens_input and event.cost for event in thoughts)
        for event in run.events:
            if event.type is EventType.TOOL_CALL:
                assert event.name == "bash" and event.attributes[TOOL_ARGUMENTS] == {"command": event.content}
            if event.type is EventType.TOOL_RESULT and PROCESS_EXIT_CODE in event.attributes:
                failed = event.attributes[PROCESS_EXIT_CODE] != 0
                assert (event.status is EventStatus.ERROR) is failed
                assert events[event.parent_id or ""].type is EventType.TOOL_CALL
        assert run.events[-1].attributes[semconv.ESCAI_OUTCOME_SUCCESS] is run.annotations["labels"]["success"]


@needs_data
def test_mini_swe_agent_format_errors_become_error_events() -> None:
    """A response without exactly one bash block has no tool call; the feedback that follows is an error event."""
    errors = 0
    for run in runs_of(MINI_SWE, limit=60):
        events = by_id(run)
        for event in run.events:
            if event.type is EventType.ERROR:
                errors += 1
                assert "EXACTLY ONE" in (event.content or "")
                previous = [item for item in run.events if item.step_index == (event.step_index or 0) - 1]
                assert [item.type for item in previous] == [EventType.THOUGHT]
        assert all(
            events[e.parent_id or ""].type is EventType.THOUGHT for e in run.events if e.type is EventType.TOOL_CALL
        )
    assert errors > 0


@needs_data
def test_swe_agent_real_trajectories() -> None:
    """SWE-agent: thought, call and result per step; the history-only file is read from its history."""
    runs = runs_of(SWE_AGENT)
    assert len(runs) == 22
    for run in runs:
        assert run.annotations["run"]["exit_status"] in ("submitted", None)
        assert run.events[-1].attributes.get(semconv.ESCAI_OUTCOME_SUCCESS) is None
        kinds = Counter(event.type for event in run.events)
        assert kinds[EventType.TOOL_CALL] == kinds[EventType.TOOL_RESULT] > 0
    history_only = next(run for run in runs if "function_calling_simple" in str(run.annotations["task"]["path"]))
    calls = [event for event in history_only.events if event.type is EventType.TOOL_CALL]
    assert [event.name for event in calls] == ["find_file", "open", "edit", "bash", "submit"]
    assert calls[3].attributes[TOOL_ARGUMENTS] == {"command": "python tests/missing_colon.py"}
    function_calling = [run for run in runs if "function_calling__install" in str(run.annotations["task"]["path"])]
    names = {event.name for run in function_calling for event in run.events if event.type is EventType.TOOL_CALL}
    assert "bash" in names and "submit" in names


@needs_data
def test_mast_real_traces() -> None:
    """MAST: each framework's log is split with its heuristic, and failure-mode votes are kept by name."""
    runs = runs_of(MAST)
    records = json.loads(gzip.decompress(MAST.read_bytes()), parse_constant=lambda _: None)
    assert len(runs) == 19
    heuristics = Counter((run.events[0].framework, run.annotations["split"]["heuristic"]) for run in runs)
    assert heuristics == {
        ("appworld", "appworld"): 3,
        ("hyperagent", "json-logger"): 3,
        ("ag2", "json-messages"): 3,
        ("chatdev", "bracketed"): 4,
        ("metagpt", "json-loguru"): 3,
        ("metagpt", "bracketed"): 1,
        ("magentic", "banner"): 1,
        ("openmanus", "loguru"): 1,
    }
    for run, record in zip(runs, records, strict=True):
        modes = run.annotations["labels"]["failure_modes"]
        assert len(modes) == len(record["annotations"])
        for item in record["annotations"]:
            name = " ".join(item["failure mode"].split("\n")[0].split(" ", 1)[1].split()).lower()
            votes = [item[key] for key in ("annotator_1", "annotator_2", "annotator_3")]
            assert modes[name]["votes"] == dict(zip(("annotator_1", "annotator_2", "annotator_3"), votes, strict=True))
            cast = [vote for vote in votes if vote is not None]
            assert modes[name]["majority"] == (sum(cast) * 2 > len(cast))
        turns = [event for event in run.events if event.step_index is not None]
        assert len(turns) >= 4 and len({event.agent_id for event in turns}) >= 2
    ag2 = next(run for run in runs if run.events[0].framework == "ag2")
    assert {event.agent_id for event in ag2.events if event.step_index is not None} == {"mathproxyagent", "assistant"}
    chatdev = next(run for run in runs if run.events[0].framework == "chatdev")
    assert chatdev.events[1].timestamp.year == 2025


@needs_data
def test_langfuse_real_exports() -> None:
    """Langfuse: one start/end pair per observation, tree from parent ids, usage on generations, tools named."""
    for path in sorted(LANGFUSE.glob("*.json")):
        document = json.loads(path.read_text())
        (run,) = runs_of(path)
        pairs: dict[str, list[AgentEvent]] = {}
        for event in run.events[1:-1]:
            pairs.setdefault(event.attributes["langfuse.observation.id"], []).append(event)
        assert set(pairs) == {observation["id"] for observation in document["observations"]}
        for observation in document["observations"]:
            start, end = pairs[observation["id"]]
            assert end.parent_id == start.id and start.timestamp <= end.timestamp
            parent = observation.get("parentObservationId")
            expected_parent = pairs[parent][0].id if parent in pairs else run.events[0].id
            assert start.parent_id == expected_parent, (path.name, observation["id"])
    (langgraph,) = runs_of(LANGFUSE / "langgraph-2025-08-22.json")
    responses = [event for event in langgraph.events if event.type is EventType.LLM_RESPONSE]
    assert sorted((event.tokens_input, event.tokens_output) for event in responses) == [(60, 15), (108, 51)]
    assert langgraph.events[0].framework == "langgraph"
    (adk,) = runs_of(LANGFUSE / "google-adk-2025-08-28.json")
    assert [event.name for event in adk.events if event.type is EventType.TOOL_CALL] == ["say_hello"]
    assert {event.agent_id for event in adk.events if event.type is EventType.TOOL_CALL} == {"hello_agent"}


@needs_data
def test_otel_span_dumps_with_own_mapping() -> None:
    """This module's own span-dump mapping: LLM calls with usage and cost, tool calls with their arguments."""
    document = json.loads((OTEL / "OPENAI_trace.json").read_text())
    (run,) = otel_json.convert(document, "document")
    kinds = Counter(event.type for event in run.events)
    assert kinds[EventType.LLM_REQUEST] == kinds[EventType.LLM_RESPONSE] == 3
    calls = [event for event in run.events if event.type is EventType.TOOL_CALL]
    assert [(event.name, event.content) for event in calls] == [
        ("get_current_time", '{"timezone": "America/New_York"}'),
        ("write_file", '{"text": "2025"}'),
    ]
    first_response = next(event for event in run.events if event.type is EventType.LLM_RESPONSE)
    assert (first_response.tokens_input, first_response.tokens_output) == (269, 16)
    assert first_response.cost == pytest.approx(2.69e-05 + 4.8e-06)
    assert {event.agent_id for event in run.events} == {"any_agent"}
    assert run.events[-1].content == json.dumps(document["final_output"], separators=(",", ":"))


@needs_data
def test_otel_span_dumps_through_the_importer() -> None:
    """The otel-json importer (with the OTLP intake's converter when installed) gives one annotated run per dump."""
    for path in sorted(OTEL.glob("*_trace.json")):
        (run,) = runs_of(path)
        starts = [event for event in run.events if event.type is EventType.SESSION_START]
        assert len(starts) == 1 and starts[0].attributes[semconv.ESCAI_ANNOTATIONS]["source"] == "otel-json"
        tools = {event.name for event in run.events if event.type is EventType.TOOL_CALL}
        assert {"get_current_time", "write_file"} <= tools


def test_escai_jsonl_round_trip_and_bad_lines(tmp_path: Path) -> None:
    """ESCAI's own JSON Lines come back as the same events, per session; invalid lines are skipped with reasons."""
    events = [
        AgentEvent(id=f"e{index}", session_id=f"s{index // 3}", agent_id="a", type=EventType.MESSAGE, content="hi")
        for index in range(6)
    ]
    lines = [event.model_dump_json() for event in events]
    lines.insert(2, '{"session_id": "s0", "type": "nonsense"}')
    lines.insert(4, "{not json")
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items = list(read_runs(path))
    runs = [item for item in items if isinstance(item, ImportedRun)]
    skipped = [item for item in items if isinstance(item, SkippedRecord)]
    assert [event for run in runs for event in run.events] == events
    assert [run.session_id for run in runs] == ["s0", "s1"]
    assert [item.ref for item in skipped] == ["line 3", "line 5"]
    assert "agent_id" in skipped[0].reason and "not valid JSON" in skipped[1].reason


# --- detection ----------------------------------------------------------------------------------------------------


def _renamed(source: Path, target: Path, *, compress: bool = False) -> Path:
    """A copy of ``source`` at ``target`` (a name that says nothing), gzip-compressed or not as asked."""
    data = source.read_bytes()
    if compress and data[:2] != b"\x1f\x8b":
        data = gzip.compress(data)
    if not compress and data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    target.write_bytes(data)
    return target


@needs_data
@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("who_and_when/Algorithm-Generated/1.json", "who-and-when"),
        ("tau_bench_historical/gpt-4o-airline.json.gz", "tau-bench"),
        ("mini_swe_agent_swebench_verified/trajectories.jsonl.gz", "mini-swe-agent"),
        ("swe_agent_demos/trajectories.jsonl.gz", "swe-agent"),
        ("mast_mad_human/MAD_human_labelled_dataset.json.gz", "mast"),
        ("framework_traces/langfuse_export/koog-2025-08-26.json", "langfuse"),
        ("framework_traces/any_agent_otel/SMOLAGENTS_trace.json", "otel-json"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_auto_detection_by_structure(relative: str, expected: str, compress: bool, tmp_path: Path) -> None:
    """Every format is recognised from its content alone, under a meaningless name, compressed or not."""
    path = _renamed(DATASETS / relative, tmp_path / "opaque.bin", compress=compress)
    assert detect_format(Source(path)) == expected


def test_auto_detection_of_escai_jsonl_and_refusals(tmp_path: Path) -> None:
    """ESCAI JSON Lines are recognised; text, unknown JSON and broken JSON are refused with the reason."""
    events = tmp_path / "a"
    events.write_text(AgentEvent(session_id="s", agent_id="a", type=EventType.MESSAGE).model_dump_json() + "\n")
    assert detect_format(Source(events)) == "jsonl"
    text = tmp_path / "b"
    text.write_text("# a readme\n")
    with pytest.raises(UnrecognisedFormatError, match="not JSON"):
        detect_format(Source(text))
    unknown = tmp_path / "c"
    unknown.write_text('{"hello": 1}')
    with pytest.raises(UnrecognisedFormatError, match="keys hello"):
        detect_format(Source(unknown))
    broken = tmp_path / "d"
    broken.write_text('{\n"history": [\n')
    with pytest.raises(ImporterError, match="not valid JSON") as refused:
        detect_format(Source(broken))
    assert not isinstance(refused.value, UnrecognisedFormatError)


def test_registry_names_every_format() -> None:
    """The registry holds exactly the formats of the command line, each importer under its own name."""
    assert list(IMPORTERS) == [
        "who-and-when", "tau-bench", "mini-swe-agent", "swe-agent", "mast", "langfuse", "otel-json", "jsonl",
    ]  # fmt: skip
    assert all(importer.name == name for name, importer in IMPORTERS.items())


# --- storage ------------------------------------------------------------------------------------------------------


def _subset(folder: Path) -> None:
    """Three runs of every format, written under ``folder`` (directories are imported whole)."""
    folder.mkdir()
    for name in ("1.json", "10.json", "100.json"):
        shutil.copy(WHO_AND_WHEN / name, folder / f"ww-{name}")
    tau = json.loads(gzip.decompress(TAU_BENCH.read_bytes()))[:3]
    (folder / "tau.json").write_text(json.dumps(tau))
    with gzip.open(MINI_SWE, "rt") as lines:
        mini = [next(lines) for _ in range(3)]
    (folder / "mini.jsonl.gz").write_bytes(gzip.compress("".join(mini).encode()))
    with gzip.open(SWE_AGENT, "rt") as lines:
        (folder / "swe.jsonl").write_text("".join(next(lines) for _ in range(3)))
    records = json.loads(gzip.decompress(MAST.read_bytes()), parse_constant=lambda _: None)
    small = sorted(records, key=lambda record: len(record["trace"]))[:3]
    (folder / "mast.json").write_text(json.dumps(small))
    for name in ("autogen-2025-06-06.json", "google-adk-2025-08-28.json", "openai-agents-2025-09-30.json"):
        shutil.copy(LANGFUSE / name, folder / f"lf-{name}")
    for name in ("AGNO_trace.json", "OPENAI_trace.json", "TINYAGENT_trace.json"):
        shutil.copy(OTEL / name, folder / f"otel-{name}")
    copies = [
        event.model_copy(update={"id": f"copy-{event.id}", "session_id": f"copy-{event.session_id}"}).model_dump_json()
        for run in runs_of(folder / "ww-1.json") + runs_of(folder / "ww-10.json") + runs_of(folder / "ww-100.json")
        for event in run.events
    ]
    (folder / "escai.jsonl").write_text("\n".join(copies) + "\n")


@needs_data
async def test_import_three_runs_of_every_format(database_url: str, tmp_path: Path) -> None:
    """Every format is stored with its events; ground truth lands in session annotations and the outcome."""
    _subset(tmp_path / "data")
    progress: list[ImportProgress] = []
    service = EscaiService(make_settings(database_url, tmp_path))
    await service.start()
    try:
        summary = await import_files(service.pipeline, [tmp_path / "data"], progress=progress.append)
        again = await import_files(service.pipeline, [tmp_path / "data"])
    finally:
        await service.stop()
    assert not summary.failed and not summary.skipped
    formats = Counter(report.format for report in summary.files for _ in range(report.runs))
    assert formats == dict.fromkeys(IMPORTERS, 3)
    assert summary.sessions == 24 and summary.stored == summary.events
    assert again.stored == 0 and sum(report.duplicates for report in again.files) == summary.events
    assert progress[-1].bytes_done == progress[-1].bytes_total and progress[-1].runs == summary.runs
    assert [state.file_number for state in progress] == sorted(state.file_number for state in progress)
    expected = {run.session_id: run for path in sorted((tmp_path / "data").iterdir()) for run in runs_of(path)}
    assert len(expected) == 24
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            for session_id, run in expected.items():
                stored = await get_session(connection, session_id)
                assert stored is not None, session_id
                assert stored.annotations == run.annotations
                assert stored.event_count == len(run.events) == await count_events(connection, session_id)
                success = run.annotations["labels"].get("success")
                assert stored.outcome_success is success
                assert stored.status is {True: SessionStatus.COMPLETED, False: SessionStatus.FAILED}.get(
                    success, SessionStatus.UNKNOWN
                )
            tau = [run for run in expected.values() if run.format == "tau-bench"]
            for run in tau:
                stored = await get_session(connection, run.session_id)
                assert stored is not None and stored.outcome_score == run.annotations["labels"]["reward"]
            original = next(run for run in expected.values() if run.format == "who-and-when")
            copy = await get_session(connection, "copy-" + original.session_id)
            assert copy is not None and copy.annotations == original.annotations
            page = await list_events(connection, EventFilter(session_id=tau[0].session_id), limit=1000)
            assert [event.id for event in page.events] == [event.id for event in tau[0].events]
    finally:
        await engine.dispose()


@needs_data
async def test_bad_file_in_the_middle_is_reported_and_the_rest_imported(database_url: str, tmp_path: Path) -> None:
    """A broken file fails alone with a clear error; a bad record is skipped; files around them are stored."""
    first = shutil.copy(WHO_AND_WHEN / "2.json", tmp_path / "a.json")
    broken = tmp_path / "b.json"
    broken.write_text('{\n  "history": [\n    {"role": "user", "content": "cut off')
    readme = tmp_path / "c.md"
    readme.write_text("# notes\n")
    tau = json.loads(gzip.decompress(TAU_BENCH.read_bytes()))[:3]
    del tau[1]["traj"]
    last = tmp_path / "d.json"
    last.write_text(json.dumps(tau))
    service = EscaiService(make_settings(database_url, tmp_path))
    await service.start()
    try:
        summary = await import_files(service.pipeline, [Path(first), broken, readme, last, tmp_path / "missing.json"])
    finally:
        await service.stop()
    reports = {Path(report.path).name: report for report in summary.files}
    assert [report.path for report in summary.failed] == [str(broken), str(tmp_path / "missing.json")]
    assert reports["b.json"].error is not None and "not valid JSON" in reports["b.json"].error
    assert reports["missing.json"].error == "no such file"
    assert reports["c.md"].unrecognised and "not JSON" in (reports["c.md"].error or "")
    assert reports["a.json"].runs == 1 and reports["d.json"].runs == 2
    assert reports["d.json"].skipped == [("item 1", "field 'traj' should be list, found nothing")]
    assert summary.sessions == 3 and summary.stored == summary.events > 0
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await count_events(connection) == summary.events
    finally:
        await engine.dispose()


@needs_data
def test_cli_import_reports_summary_and_failures(tmp_path: Path) -> None:
    """``escai import`` prints a summary (or JSON) and exits 1 when a file failed, after importing the others."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    runner = CliRunner()
    result = runner.invoke(
        app, ["import", str(LANGFUSE / "autogen-2025-06-06.json"), str(broken), "--database-url", url]
    )
    assert result.exit_code == 1, result.output
    assert "langfuse" in result.output and "failed files: 1" in result.output and "broken.json" in result.output
    listed = runner.invoke(
        app, ["import", str(WHO_AND_WHEN / "3.json"), "--format", "who-and-when", "--json", "--database-url", url]
    )
    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.output)
    assert (document["sessions"], document["failed_files"], document["stored"]) == (1, 0, document["events"])
    refused = runner.invoke(app, ["import", str(broken), "--format", "csv", "--database-url", url])
    assert refused.exit_code == 2 and "not one of" in refused.output
