"""Plugins: discovery through real ``escai.plugins`` entry points, and session plugins run on real traces."""

from __future__ import annotations

import itertools
import os
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from escai.ingest.importers import ImportedRun, read_runs
from escai.model import AgentEvent, EventStatus, EventType
from escai.nodes import NodeKind, PluginError
from escai.nodes.examples import ToolFailureCounter
from escai.nodes.plugins import PLUGIN_GROUP, SessionInput, load_plugins, run_session_plugins

DATASETS = Path(os.environ.get("ESCAI_DATASETS", Path(__file__).resolve().parents[2].parent / "shared" / "datasets"))

_PLUGIN_MODULE = """
from pydantic import BaseModel

from escai.nodes import ComputeNode, EffectNode, NoConfig
from escai.nodes.plugins import SessionInput


class EventCount(BaseModel):
    events: int
    outcome: str | None


class CountEvents(ComputeNode[SessionInput, EventCount, NoConfig]):
    input_model = SessionInput
    output_model = EventCount
    hook = "session"

    def compute(self, data: SessionInput) -> EventCount:
        return EventCount(events=len(data.events), outcome=data.outcome)


class AlwaysFails(ComputeNode[SessionInput, EventCount, NoConfig]):
    input_model = SessionInput
    output_model = EventCount
    hook = "session"

    def compute(self, data: SessionInput) -> EventCount:
        raise ValueError("broken plugin")


class Exporter(EffectNode[EventCount, EventCount, NoConfig]):
    input_model = EventCount
    output_model = EventCount


class WrongInput(ComputeNode[EventCount, EventCount, NoConfig]):
    input_model = EventCount
    output_model = EventCount
    hook = "session"


NOT_A_NODE = 42
"""


@pytest.fixture
def installed_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install a fake distribution (a real *.dist-info folder with entry points) and return its module name."""
    module = f"escai_test_plugin_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(_PLUGIN_MODULE))
    dist_info = tmp_path / f"{module}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        f"[{PLUGIN_GROUP}]\n"
        f"count_events = {module}:CountEvents\n"
        f"always_fails = {module}:AlwaysFails\n"
        f"exporter = {module}:Exporter\n"
        "tool_failures = escai.nodes.examples:ToolFailureCounter\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    return module


def _write_broken_entries(directory: Path, module: str) -> None:
    dist_info = directory / "broken_plugins-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken_plugins\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        f"[{PLUGIN_GROUP}]\n"
        "missing_module = escai_no_such_module_xyz:Node\n"
        f"not_a_node = {module}:NOT_A_NODE\n"
        f"wrong_input = {module}:WrongInput\n"
    )


def test_load_plugins_finds_entry_points_with_kind_and_hook(installed_plugins: str) -> None:
    """Every node registered by the fake distribution is loaded with its class, kind, hook and distribution."""
    plugins = {plugin.name: plugin for plugin in load_plugins()}
    assert {"count_events", "always_fails", "exporter", "tool_failures"} <= set(plugins)
    count = plugins["count_events"]
    assert (count.kind, count.hook, count.distribution) == (NodeKind.COMPUTE, "session", installed_plugins)
    assert count.node_class.__module__ == installed_plugins
    assert (plugins["exporter"].kind, plugins["exporter"].hook) == (NodeKind.EFFECT, None)
    assert plugins["tool_failures"].node_class is ToolFailureCounter


def test_broken_plugins_are_skipped_or_raise_when_strict(
    installed_plugins: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Unimportable, non-node and wrongly typed session plugins are skipped with a log line, or raise if strict."""
    _write_broken_entries(tmp_path, installed_plugins)
    names = {plugin.name for plugin in load_plugins()}
    assert "count_events" in names
    assert not names & {"missing_module", "not_a_node", "wrong_input"}
    assert sum("plugin.load_failed" in record.getMessage() for record in caplog.records) == 3
    with pytest.raises(PluginError, match=r"does not import|is not a node class|is not escai\.nodes\.plugins"):
        load_plugins(strict=True)


async def test_run_session_plugins_runs_every_session_hook(installed_plugins: str) -> None:
    """Each session plugin adds its analysis; a failing plugin reports its error; non-session plugins are skipped."""
    events: list[AgentEvent | dict[str, Any]] = [
        AgentEvent(session_id="s1", agent_id="a1", type=EventType.TOOL_CALL, name="search", id="c1"),
        AgentEvent(
            session_id="s1",
            agent_id="a1",
            type=EventType.TOOL_RESULT,
            name="search",
            parent_id="c1",
            status=EventStatus.ERROR,
        ),
        {"id": "c2", "type": "tool_call", "name": "fetch", "status": "error", "session_id": "s1", "agent_id": "a1"},
    ]
    results = await run_session_plugins({"id": "s1", "agent_id": "a1", "outcome": "failure"}, events)
    assert results["count_events"] == {"events": 3, "outcome": "failure"}
    assert results["always_fails"] == {"error": "ValueError: broken plugin"}
    assert "exporter" not in results
    assert results["tool_failures"]["calls_by_tool"] == {"fetch": 1, "search": 1}
    assert results["tool_failures"]["failures_by_tool"] == {"fetch": 1, "search": 1}


def _first_runs(relative: str, count: int) -> list[ImportedRun]:
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"real traces not found at {path} (set ESCAI_DATASETS)")
    runs = (item for item in read_runs(path) if isinstance(item, ImportedRun))
    return list(itertools.islice(runs, count))


@pytest.mark.parametrize(
    "relative",
    ["tau_bench_historical/gpt-4o-airline.json.gz", "mini_swe_agent_swebench_verified/trajectories.jsonl.gz"],
)
async def test_tool_failure_plugin_on_real_traces(relative: str) -> None:
    """On real runs, calls equal the tool_call events and failures the failed results, tool by tool."""
    runs = _first_runs(relative, 15)
    node = ToolFailureCounter()
    failures_seen = 0
    for run in runs:
        counts = await node.run(SessionInput(session_id=run.session_id, events=list(run.events)))
        expected_calls: dict[str, int] = {}
        expected_failures: dict[str, int] = {}
        for event in run.events:
            if event.type is EventType.TOOL_CALL:
                expected_calls[event.name or "unknown"] = expected_calls.get(event.name or "unknown", 0) + 1
            if event.type is EventType.TOOL_RESULT and event.status is EventStatus.ERROR:
                expected_failures[event.name or "unknown"] = expected_failures.get(event.name or "unknown", 0) + 1
        assert counts.calls_by_tool == expected_calls
        assert counts.failures_by_tool == expected_failures
        assert all(0.0 <= rate <= 1.0 for rate in counts.failure_rate_by_tool.values())
        failures_seen += counts.total_failures
    assert failures_seen > 0
