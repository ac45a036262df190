"""MAD/MAST human-labelled traces: a JSON list of raw multi-agent logs, each with failure-mode votes.

Each record holds one raw log (``trace``) of one of seven frameworks. Logs that are JSON are read structurally
first: an AG2 ``trajectory`` of ``{content, role, name}`` messages gives one turn per message (the agent is
``name``); a ``trajectory`` of log lines (HyperAgent) or a ``content`` string (MetaGPT) is split as text. Text is
split into turns by :mod:`escai.ingest.importers.logsplit` (speaker lines, headers, timestamps; paragraph chunks
as the fallback); each turn is one event with ``step_index`` = its position. Turns with a timestamp keep it;
the others are placed after their predecessor (from 2024-01-01T00:00:00Z when the log has no time at all).

The labels are per trace: for every failure mode, the annotators' votes (null where the data has no vote, written
``NaN`` upstream) and the majority (more than half of the votes cast are true), keyed by the mode's name (lower
case, spaces collapsed), because the numeric codes changed between annotation rounds. MAST
records no success label, so the outcome stays unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from escai.ingest.importers.base import (
    OBSERVED_STEP,
    SYNTHETIC_EPOCH,
    SYNTHETIC_STEP,
    Clock,
    ImportedRun,
    ImportItem,
    RunBuilder,
    Source,
    as_text,
    convert_records,
    require,
    sequence,
    session_id_for,
)
from escai.ingest.importers.logsplit import Turn, split_log
from escai.model import semconv
from escai.model.events import EventStatus, EventType

FORMAT = "mast"
LOG_LEVEL = "log.level"
"""The level of the log line that opened a turn (``INFO``, ``ERROR``, ...)."""
_MODE = re.compile(r"^\s*(?P<code>\d+(?:\.\d+)*)?\s*(?P<name>.*?)\s*$")
_BENCHMARK_NAMES = frozenset({"gaia"})
"""``mas_name`` values that name a benchmark: those records name their framework in ``benchmark_name``."""


def failure_modes(annotations: list[Any]) -> dict[str, dict[str, Any]]:
    """Per failure mode (keyed by normalised name): its code, name, definition, the votes and their majority."""
    modes: dict[str, dict[str, Any]] = {}
    for item in annotations:
        if not isinstance(item, dict):
            continue
        raw = str(item.get("failure mode") or "")
        heading, _, definition = raw.partition("\n")
        match = _MODE.match(heading)
        name = " ".join((match["name"] if match else heading).split())
        if not name:
            continue
        votes = {
            key: value if isinstance(value, bool) else None
            for key, value in item.items()
            if key.startswith("annotator")
        }
        cast = [vote for vote in votes.values() if vote is not None]
        modes[name.lower()] = {
            "code": match["code"] if match else None,
            "name": name,
            "definition": definition.strip(),
            "votes": votes,
            "majority": sum(cast) * 2 > len(cast) if cast else False,
        }
    return modes


def _lines(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return as_text(value) or ""


def turns_of(trace: str) -> tuple[list[Turn], str, str | None]:
    """The turns of a raw trace, the heuristic used, and the task when the trace states it."""
    stripped = trace.lstrip()
    if stripped[:1] in "{[":
        try:
            document = orjson.loads(trace)
        except orjson.JSONDecodeError:
            document = None
        if isinstance(document, dict):
            task = _lines(document.get("problem_statement") or document.get("prompt")) or None
            steps = document.get("trajectory")
            if isinstance(steps, list) and steps and all(isinstance(step, dict) for step in steps):
                turns = [
                    Turn(str(step.get("name") or step.get("role") or "unknown"), _lines(step.get("content")))
                    for step in steps
                ]
                return turns, "json-messages", task
            text = _lines(steps) if isinstance(steps, list) else _lines(document.get("content"))
            if text:
                turns, heuristic = split_log(text)
                return turns, f"json-{heuristic}", task
    turns, heuristic = split_log(trace)
    return turns, heuristic, None


def _framework(record: dict[str, Any]) -> str:
    name = str(record.get("mas_name") or "unknown")
    if name.lower() in _BENCHMARK_NAMES and record.get("benchmark_name"):
        return str(record["benchmark_name"]).lower()
    return name.lower()


def _clock(turns: list[Turn]) -> Clock:
    for position, turn in enumerate(turns):
        if turn.timestamp is not None:
            # Turns before the first timestamped one are placed just before it.
            return Clock(turn.timestamp - OBSERVED_STEP * (position + 1), OBSERVED_STEP)
    return Clock(SYNTHETIC_EPOCH, SYNTHETIC_STEP)


def convert(record: Any, ref: str) -> ImportedRun:
    """One MAST record as a run."""
    trace = require(record, "trace", str)
    framework = _framework(record)
    turns, heuristic, task = turns_of(trace)
    modes = failure_modes(sequence(record.get("annotations")))
    annotations = {
        "source": FORMAT,
        "labels": {
            "success": None,
            "failure_modes": modes,
            "majority_failure_modes": sorted(key for key, mode in modes.items() if mode["majority"]),
        },
        "task": {
            "mas_name": record.get("mas_name"),
            "benchmark_name": record.get("benchmark_name"),
            "trace_id": record.get("trace_id"),
            "round": record.get("round"),
        },
        "split": {"heuristic": heuristic, "turns": len(turns)},
    }
    clock = _clock(turns)
    key = f"{framework}-{record.get('trace_id')}"
    builder = RunBuilder(session_id_for(FORMAT, key, record), FORMAT, framework=framework, clock=clock)
    first_agent = next((turn.agent for turn in turns if turn.agent != "environment"), framework)
    builder.start(first_agent, task=task, annotations=annotations)
    pending: dict[str, str] = {}
    for step, turn in enumerate(turns):
        attributes: dict[str, Any] = {}
        parent = None
        if turn.target is not None:
            attributes[semconv.ESCAI_HANDOFF_TARGET] = turn.target
        if turn.level is not None:
            attributes[LOG_LEVEL] = turn.level
        if turn.tool is not None:
            attributes[semconv.GEN_AI_TOOL_NAME] = turn.tool
            if turn.kind is EventType.TOOL_RESULT:
                parent = pending.pop(turn.tool, None)
        event_id = builder.add(
            turn.kind,
            turn.agent,
            content=turn.text,
            name=turn.tool,
            step_index=step,
            parent_id=parent,
            attributes=attributes,
            observed=turn.timestamp,
            status=EventStatus.ERROR if turn.failed else EventStatus.UNSET,
        )
        if turn.kind is EventType.TOOL_CALL and turn.tool is not None:
            pending[turn.tool] = event_id
    builder.finish(turns[-1].agent if turns else first_agent, success=None)
    return builder.build(ref)


class MastImporter:
    """MAD/MAST human-labelled traces."""

    name = FORMAT

    def read(self, source: Source) -> Iterator[ImportItem]:
        """One run per record of the JSON list (or per line of JSON Lines)."""
        return convert_records(source, convert)
