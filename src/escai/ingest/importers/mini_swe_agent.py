"""mini-swe-agent trajectories (format ``mini-swe-agent-1``), one run per JSON Lines record.

Each record is ``{instance_id, resolved, patch_applied, report, traj}`` (the SWE-bench packing of this data set);
a bare ``.traj.json`` object (``{info, messages, trajectory_format}``) is read too. ``step_index`` is the
message's position in ``traj.messages``. An assistant message (``THOUGHT: ...`` and one fenced ``bash`` block)
becomes a ``thought`` carrying the model, tokens and cost of the response and the time ``extra.response.created``,
plus a ``tool_call`` (tool ``bash``, the command parsed out of the block). mini-swe-agent runs the command only
when there is exactly one block; otherwise the next message is its format-error feedback, recorded as an
``error`` event. An observation ``<returncode>N</returncode><output>...</output>`` is the ``tool_result``, status
error when N is not 0; the final message (the submitted diff, printed by the submit command) is the result of
the last call. Events without a time of their own are placed 1 ms after their predecessor. ``resolved`` is the
outcome; ``resolved``, ``patch_applied`` and the SWE-bench harness ``report`` go to annotations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from escai.ingest.importers.base import (
    OBSERVED_STEP,
    SYNTHETIC_EPOCH,
    SYNTHETIC_STEP,
    TOOL_ARGUMENTS,
    Clock,
    ImportedRun,
    ImportItem,
    RunBuilder,
    Source,
    as_text,
    convert_records,
    mapping,
    parse_time,
    require,
    session_id_for,
)
from escai.ingest.importers.textparse import mini_swe_action, mini_swe_observation
from escai.model import semconv
from escai.model.events import EventStatus, EventType
from escai.model.semconv import MESSAGE_ROLE, PROCESS_EXIT_CODE

FORMAT = "mini-swe-agent"
AGENT = "mini-swe-agent"
TOOL = "bash"
_PR_DESCRIPTION = re.compile(r"<pr_description>\s*(.*?)\s*</pr_description>", re.DOTALL)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _response(message: dict[str, Any]) -> dict[str, Any]:
    extra = message.get("extra")
    response = extra.get("response") if isinstance(extra, dict) else None
    return response if isinstance(response, dict) else {}


def _clock(messages: list[Any]) -> Clock:
    for position, message in enumerate(messages):
        if isinstance(message, dict):
            created = parse_time(_response(message).get("created"))
            if created is not None:
                # The messages before the first response (system prompt, task) get times just before it.
                return Clock(created - OBSERVED_STEP * (position + 1), OBSERVED_STEP)
    return Clock(SYNTHETIC_EPOCH, SYNTHETIC_STEP)


def _annotations(record: dict[str, Any], traj: dict[str, Any]) -> dict[str, Any]:
    info = mapping(traj.get("info"))
    resolved = record.get("resolved")
    return {
        "source": FORMAT,
        "labels": {
            "success": resolved if isinstance(resolved, bool) else None,
            "resolved": resolved,
            "patch_applied": record.get("patch_applied"),
            "report": record.get("report"),
        },
        "task": {"instance_id": record.get("instance_id") or traj.get("instance_id")},
        "run": {
            "exit_status": info.get("exit_status"),
            "model_stats": info.get("model_stats"),
            "trajectory_format": traj.get("trajectory_format"),
        },
    }


def convert(record: Any, ref: str) -> ImportedRun:
    """One mini-swe-agent trajectory as a run."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, found {type(record).__name__}")
    traj = mapping(record.get("traj")) or record
    messages = require(traj, "messages", list)
    annotations = _annotations(record, traj)
    instance = str(annotations["task"]["instance_id"] or "run")
    builder = RunBuilder(session_id_for(FORMAT, instance, record), FORMAT, framework=FORMAT, clock=_clock(messages))
    task_text = next(
        (as_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"), None
    )
    described = _PR_DESCRIPTION.search(task_text or "")
    builder.start(AGENT, task=described.group(1) if described else task_text, annotations=annotations)
    pending: str | None = None
    malformed = False
    seen_assistant = False
    last_time = None
    for step, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ValueError(f"messages[{step}] should be an object")
        role = str(message.get("role") or "unknown")
        text = as_text(message.get("content")) or ""
        attributes: dict[str, Any] = {MESSAGE_ROLE: role}
        if role == "assistant":
            seen_assistant = True
            response = _response(message)
            usage = mapping(response.get("usage"))
            last_time = parse_time(response.get("created"))
            if isinstance(response.get("model"), str):
                attributes[semconv.GEN_AI_RESPONSE_MODEL] = response["model"]
            action = mini_swe_action(text)
            thought = builder.add(
                EventType.THOUGHT,
                AGENT,
                content=action.thought,
                step_index=step,
                observed=last_time,
                attributes=attributes,
                tokens_input=_count(usage.get("prompt_tokens")),
                tokens_output=_count(usage.get("completion_tokens")),
                cost=_number(usage.get("cost")),
            )
            malformed = action.command is None
            pending = None
            if action.command is not None:
                pending = builder.add(
                    EventType.TOOL_CALL,
                    AGENT,
                    content=action.command,
                    name=TOOL,
                    step_index=step,
                    parent_id=thought,
                    attributes={semconv.GEN_AI_TOOL_NAME: TOOL, TOOL_ARGUMENTS: {"command": action.command}},
                )
            continue
        if role == "system" or not seen_assistant:
            builder.add(
                EventType.MESSAGE,
                "system" if role == "system" else "user",
                content=text,
                step_index=step,
                attributes=attributes,
            )
            continue
        observation = mini_swe_observation(text)
        if pending is not None:
            status = EventStatus.OK
            if observation is not None:
                attributes[PROCESS_EXIT_CODE] = observation.returncode
                status = EventStatus.OK if observation.returncode == 0 else EventStatus.ERROR
            builder.add(
                EventType.TOOL_RESULT,
                AGENT,
                content=text,
                name=TOOL,
                step_index=step,
                parent_id=pending,
                attributes={**attributes, semconv.GEN_AI_TOOL_NAME: TOOL},
                status=status,
            )
            pending = None
        elif malformed:
            attributes[semconv.ESCAI_ERROR_TYPE] = "FormatError"
            builder.add(
                EventType.ERROR,
                "environment",
                content=text,
                name="format_error",
                step_index=step,
                attributes=attributes,
                status=EventStatus.ERROR,
            )
        else:
            builder.add(EventType.MESSAGE, "user", content=text, step_index=step, attributes=attributes)
    info = mapping(traj.get("info"))
    builder.finish(AGENT, success=annotations["labels"]["success"], content=as_text(info.get("submission")))
    return builder.build(ref)


class MiniSweAgentImporter:
    """mini-swe-agent trajectories (JSON Lines of SWE-bench records, or a bare trajectory)."""

    name = FORMAT

    def read(self, source: Source) -> Iterator[ImportItem]:
        """One run per record, streamed line by line."""
        return convert_records(source, convert)
