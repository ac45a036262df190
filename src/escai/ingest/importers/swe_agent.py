"""SWE-agent ``.traj`` files, bare or packed as JSON Lines ``{path, traj}``.

Each entry of ``trajectory`` is one step (``step_index`` = its position): its ``thought`` becomes a ``thought``,
its ``action`` a ``tool_call`` and its ``observation`` the ``tool_result`` (``execution_time`` as its duration).
The tool is the command word of the action (``open``, ``edit``, ``find_file``, ``python``, ``submit``); when the
history holds the function call the model made for that action (function-calling configurations), its function
name and arguments are used instead. Before the first step, the history's system prompt and task are messages
(demonstrations are left out). A file with only ``history`` (``function_calling_simple.traj``) is read from the
history: each assistant turn is a step, with its ``tool_calls``, and each ``tool`` message answers its call.
SWE-agent records no success label: ``info.exit_status``, ``model_stats`` and the submission are kept in
annotations and the outcome stays unknown. No timestamps: they are synthesised.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from escai.ingest.importers.base import (
    TOOL_ARGUMENTS,
    ImportedRun,
    ImportItem,
    RunBuilder,
    Source,
    as_text,
    convert_records,
    mapping,
    sequence,
    session_id_for,
    tool_arguments,
)
from escai.model import semconv
from escai.model.events import EventType
from escai.model.semconv import MESSAGE_ROLE

FORMAT = "swe-agent"
AGENT = "swe-agent"


def _function_calls(history: list[Any]) -> dict[str, tuple[str, Any, str | None]]:
    """action text -> (function name, arguments, call id) for the actions the model took as function calls."""
    found: dict[str, tuple[str, Any, str | None]] = {}
    for message in history:
        if isinstance(message, dict) and message.get("role") == "assistant" and message.get("tool_calls"):
            call = message["tool_calls"][0]
            function = call.get("function") or {}
            if isinstance(message.get("action"), str) and function.get("name"):
                found.setdefault(
                    message["action"].strip(),
                    (str(function["name"]), tool_arguments(function.get("arguments")), call.get("id")),
                )
    return found


def _annotations(traj: dict[str, Any], path: Any) -> dict[str, Any]:
    info = mapping(traj.get("info"))
    return {
        "source": FORMAT,
        "labels": {},
        "task": {"path": path, "environment": traj.get("environment")},
        "run": {
            "exit_status": info.get("exit_status"),
            "model_stats": info.get("model_stats"),
            "submission": info.get("submission"),
        },
    }


def _task(history: list[Any]) -> str | None:
    for message in history:
        if isinstance(message, dict) and message.get("role") == "user" and not message.get("is_demo"):
            return as_text(message.get("content"))
    return None


def _preamble(builder: RunBuilder, history: list[Any]) -> None:
    """The system prompt and task before the first assistant turn; demonstrations are left out."""
    for message in history:
        if not isinstance(message, dict) or message.get("role") == "assistant":
            return
        if message.get("is_demo") or message.get("message_type") == "demonstration":
            continue
        role = str(message.get("role") or "unknown")
        agent = "system" if role == "system" else "user"
        builder.add(EventType.MESSAGE, agent, content=as_text(message.get("content")), attributes={MESSAGE_ROLE: role})


def _tool_of(action: str, calls: dict[str, tuple[str, Any, str | None]]) -> tuple[str, Any, str | None]:
    known = calls.get(action.strip())
    if known is not None:
        return known
    words = action.strip().split(maxsplit=1)
    return (words[0] if words else "action"), {"command": action}, None


def _call(builder: RunBuilder, step: int, parent: str, action: str, tool: tuple[str, Any, str | None]) -> str:
    name, arguments, call_id = tool
    attributes: dict[str, Any] = {semconv.GEN_AI_TOOL_NAME: name, TOOL_ARGUMENTS: arguments}
    if call_id:
        attributes[semconv.GEN_AI_TOOL_CALL_ID] = str(call_id)
    return builder.add(
        EventType.TOOL_CALL, AGENT, content=action, name=name, step_index=step, parent_id=parent, attributes=attributes
    )


def _from_trajectory(builder: RunBuilder, trajectory: list[Any], history: list[Any]) -> None:
    calls = _function_calls(history)
    for step, entry in enumerate(trajectory):
        if not isinstance(entry, dict):
            raise ValueError(f"trajectory[{step}] should be an object")
        thought = as_text(entry.get("thought")) or as_text(entry.get("response")) or ""
        turn = builder.add(EventType.THOUGHT, AGENT, content=thought, step_index=step)
        action = as_text(entry.get("action")) or ""
        tool = _tool_of(action, calls)
        call = _call(builder, step, turn, action, tool)
        seconds = entry.get("execution_time")
        builder.add(
            EventType.TOOL_RESULT,
            AGENT,
            content=as_text(entry.get("observation")),
            name=tool[0],
            step_index=step,
            parent_id=call,
            attributes={semconv.GEN_AI_TOOL_NAME: tool[0]},
            duration_ms=float(seconds) * 1000 if isinstance(seconds, int | float) and seconds >= 0 else None,
        )


def _from_history(builder: RunBuilder, history: list[Any]) -> None:
    step = -1
    open_calls: dict[str, tuple[str, str]] = {}
    started = False
    for message in history:
        if not isinstance(message, dict):
            raise ValueError("every history entry should be an object")
        role = message.get("role")
        if role != "assistant" and not started:
            continue  # the preamble is already recorded
        started = True
        if role == "assistant":
            step += 1
            thought = as_text(message.get("thought")) or as_text(message.get("content")) or ""
            turn = builder.add(EventType.THOUGHT, AGENT, content=thought, step_index=step)
            action = as_text(message.get("action")) or ""
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                tool = (str(function.get("name") or "tool"), tool_arguments(function.get("arguments")), call.get("id"))
                event_id = _call(builder, step, turn, action, tool)
                open_calls[str(call.get("id"))] = (event_id, tool[0])
            if not message.get("tool_calls") and action:
                tool = _tool_of(action, {})
                open_calls[""] = (_call(builder, step, turn, action, tool), tool[0])
        else:
            ids = [str(item) for item in message.get("tool_call_ids") or ()] or [""]
            parent, name = open_calls.pop(ids[0], (None, None))
            builder.add(
                EventType.TOOL_RESULT if parent else EventType.MESSAGE,
                AGENT if parent else "user",
                content=as_text(message.get("content")),
                name=name,
                step_index=max(step, 0),
                parent_id=parent,
                attributes={MESSAGE_ROLE: str(role)},
            )


def convert(record: Any, ref: str) -> ImportedRun:
    """One SWE-agent trajectory as a run."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, found {type(record).__name__}")
    traj = record["traj"] if isinstance(record.get("traj"), dict) else record
    trajectory = sequence(traj.get("trajectory"))
    history = sequence(traj.get("history"))
    if not trajectory and not history:
        raise ValueError("neither 'trajectory' nor 'history' holds any step")
    path = record.get("path")
    key = str(path).rsplit("/", 1)[-1].removesuffix(".traj") if path else str(traj.get("environment") or "run")
    builder = RunBuilder(session_id_for(FORMAT, key, record), FORMAT, framework=FORMAT)
    annotations = _annotations(traj, path)
    builder.start(AGENT, task=_task(history), annotations=annotations)
    _preamble(builder, history)
    if trajectory:
        _from_trajectory(builder, trajectory, history)
    else:
        _from_history(builder, history)
    builder.finish(AGENT, success=None, content=as_text(annotations["run"]["submission"]))
    return builder.build(ref)


class SweAgentImporter:
    """SWE-agent trajectories (``.traj`` JSON, or JSON Lines of ``{path, traj}``)."""

    name = FORMAT

    def read(self, source: Source) -> Iterator[ImportItem]:
        """One run per trajectory."""
        return convert_records(source, convert)
