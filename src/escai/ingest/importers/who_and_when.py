"""Who&When (ICML 2025) failure-attribution logs: one JSON object per run, all runs failed.

Each entry of ``history`` becomes one event whose ``step_index`` is its 0-based position in ``history`` (the
index ``mistake_step`` refers to). The speaking agent is in ``name`` (Algorithm-Generated, CaptainAgent/AG2) or,
when no entry has a name, in ``role`` (Hand-Crafted, Magentic-One), where a note in parentheses says what kind
of turn it is: ``Orchestrator (thought)`` is a thought, ``Orchestrator (-> WebSurfer)`` a hand-off to WebSurfer,
any other note (``termination condition``) is kept as an attribute of a message.

Tool use is inside the text: fenced ``python``/``sh`` blocks are tool calls (a child event of the message, same
step), and an executor's reply (``exitcode: 1 (execution failed)``, Magentic-One's ``POSIX exit code``, or any
turn of the ``ComputerTerminal`` executor) is the tool result, with status error for a non-zero exit code.
The labels (``mistake_agent``, ``mistake_step``, ``mistake_reason``, ``is_correct``) go to annotations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from escai.ingest.importers.base import (
    TOOL_ARGUMENTS,
    ImportedRun,
    ImportItem,
    RunBuilder,
    Source,
    as_text,
    convert_records,
    require,
    session_id_for,
)
from escai.ingest.importers.textparse import code_calls, execution_exit_code
from escai.model import semconv
from escai.model.events import EventStatus, EventType
from escai.model.semconv import MESSAGE_ROLE, PROCESS_EXIT_CODE, SYSTEM_PROMPTS

FORMAT = "who-and-when"
ROLE_NOTE = "who_and_when.role_note"
"""The parenthesised note of a Hand-Crafted role that is neither a thought nor a hand-off."""

_ROLE = re.compile(r"^\s*(?P<agent>[^()]+?)\s*\((?P<note>[^)]*)\)\s*$")
_EXECUTORS = frozenset({"computerterminal"})
"""Agents that only execute code (compared without case and underscores): their turns are tool results."""


@dataclass(frozen=True, slots=True)
class Speaker:
    """Who spoke a history entry and what kind of turn it was."""

    agent: str
    kind: EventType
    target: str | None = None
    note: str | None = None


def parse_speaker(message: dict[str, Any]) -> Speaker:
    """The agent of a history entry: ``name`` when present, else ``role`` with its parenthesised note parsed."""
    name = message.get("name")
    if isinstance(name, str) and name.strip():
        return Speaker(name.strip(), EventType.MESSAGE)
    role = str(message.get("role") or "unknown").strip()
    match = _ROLE.match(role)
    if match is None:
        return Speaker(role, EventType.MESSAGE)
    agent, note = match.group("agent").strip(), match.group("note").strip()
    if note.startswith("->"):
        return Speaker(agent, EventType.HANDOFF, target=note[2:].strip(), note=note)
    if note.lower() == "thought":
        return Speaker(agent, EventType.THOUGHT, note=note)
    return Speaker(agent, EventType.MESSAGE, note=note)


def _is_executor(agent: str) -> bool:
    return agent.replace("_", "").lower() in _EXECUTORS


def _step(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _annotations(record: dict[str, Any], variant: str) -> dict[str, Any]:
    correct = record.get("is_correct", record.get("is_corrected"))
    labels: dict[str, Any] = {
        "success": correct if isinstance(correct, bool) else False,
        "mistake_agent": record.get("mistake_agent"),
        "mistake_step": _step(record.get("mistake_step")),
        "mistake_reason": record.get("mistake_reason"),
    }
    if "labels" in record:
        labels["error_type"] = record["labels"]
    return {
        "source": FORMAT,
        "variant": variant,
        "labels": labels,
        "task": {
            "question_id": record.get("question_ID"),
            "question": record.get("question"),
            "level": record.get("level"),
            "ground_truth": record.get("ground_truth"),
        },
    }


def _code_call(builder: RunBuilder, agent: str, step: int, turn: str, tool: str, code: str) -> str:
    return builder.add(
        EventType.TOOL_CALL,
        agent,
        content=code,
        name=tool,
        step_index=step,
        parent_id=turn,
        attributes={semconv.GEN_AI_TOOL_NAME: tool, TOOL_ARGUMENTS: {"code": code}},
    )


def convert(record: Any, ref: str) -> ImportedRun:
    """One Who&When log as a run."""
    history = require(record, "history", list)
    if not history:
        raise ValueError("history is empty")
    if not all(isinstance(message, dict) for message in history):
        raise ValueError("every history entry should be an object")
    named = any(isinstance(message.get("name"), str) and message["name"] for message in history)
    variant = "agent-in-name" if named else "agent-in-role"
    builder = RunBuilder(
        session_id_for(FORMAT, str(record.get("question_ID") or "run"), record),
        FORMAT,
        framework="ag2" if named else "magentic-one",
    )
    speakers = [parse_speaker(message) for message in history]
    attributes: dict[str, Any] = {}
    if isinstance(record.get("system_prompt"), dict) and record["system_prompt"]:
        attributes[SYSTEM_PROMPTS] = record["system_prompt"]
    question = record.get("question")
    builder.start(
        speakers[0].agent,
        task=question if isinstance(question, str) else None,
        annotations=_annotations(record, variant),
        attributes=attributes,
    )
    pending: list[tuple[str, str]] = []  # code calls not answered yet: (event id, tool)
    for step, (message, speaker) in enumerate(zip(history, speakers, strict=True)):
        text = as_text(message.get("content")) or ""
        role_attributes: dict[str, Any] = {}
        if isinstance(message.get("role"), str):
            role_attributes[MESSAGE_ROLE] = message["role"]
        exit_code = execution_exit_code(text)
        if exit_code is not None or _is_executor(speaker.agent):
            parent, tool = pending[0] if pending else (None, "code_execution")
            pending = []
            if exit_code is not None:
                role_attributes[PROCESS_EXIT_CODE] = exit_code
            status = EventStatus.UNSET if exit_code is None else EventStatus.OK if exit_code == 0 else EventStatus.ERROR
            builder.add(
                EventType.TOOL_RESULT,
                speaker.agent,
                content=text,
                name=tool,
                step_index=step,
                parent_id=parent,
                attributes={**role_attributes, semconv.GEN_AI_TOOL_NAME: tool},
                status=status,
            )
            continue
        if speaker.target is not None:
            role_attributes[semconv.ESCAI_HANDOFF_TARGET] = speaker.target
        elif speaker.note is not None and speaker.kind is EventType.MESSAGE:
            role_attributes[ROLE_NOTE] = speaker.note
        turn = builder.add(speaker.kind, speaker.agent, content=text, step_index=step, attributes=role_attributes)
        pending = [
            (_code_call(builder, speaker.agent, step, turn, call.tool, call.code), call.tool)
            for call in code_calls(text)
        ]
    builder.finish(speakers[-1].agent, success=builder.annotations["labels"]["success"])
    return builder.build(ref)


class WhoAndWhenImporter:
    """Who&When logs, both variants (agent in ``name`` or in ``role``)."""

    name = FORMAT

    def read(self, source: Source) -> Iterator[ImportItem]:
        """One run per JSON object (a file, a JSON list of logs, or JSON Lines)."""
        return convert_records(source, convert)
