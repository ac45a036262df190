"""tau-bench historical trajectories: a JSON list of runs, each an OpenAI chat transcript with a reward.

Agents: ``assistant`` (the tool-calling agent under test), ``user`` (the LLM-simulated customer) and ``system``
(the domain policy). Each transcript message is one event whose ``step_index`` is its position in ``traj``; an
assistant message with ``tool_calls`` gives one ``tool_call`` per call (arguments parsed from their JSON string),
and each ``tool`` message is the ``tool_result`` of its call, recorded under the assistant (the tool's owner) and
linked by ``tool_call_id``, with status error when the tool answered ``Error: ...``. ``reward`` 1.0 is success;
the reward, its breakdown and the gold actions go to annotations. No timestamps: they are synthesised.
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
    require,
    session_id_for,
    tool_arguments,
)
from escai.model import semconv
from escai.model.events import EventStatus, EventType
from escai.model.semconv import MESSAGE_ROLE

FORMAT = "tau-bench"
AGENT = "assistant"
USER = "user"


def _annotations(record: dict[str, Any], reward: float | None) -> dict[str, Any]:
    info = mapping(record.get("info"))
    task = mapping(info.get("task"))
    return {
        "source": FORMAT,
        "labels": {
            "success": None if reward is None else reward >= 1.0,
            "reward": reward,
            "reward_info": info.get("reward_info"),
            "gold_actions": task.get("actions"),
            "gold_outputs": task.get("outputs"),
        },
        "task": {
            "task_id": record.get("task_id"),
            "trial": record.get("trial"),
            "user_id": task.get("user_id"),
            "instruction": task.get("instruction"),
        },
        "user_cost": info.get("user_cost"),
    }


def convert(record: Any, ref: str) -> ImportedRun:
    """One tau-bench run as a run."""
    traj = require(record, "traj", list)
    raw_reward = record.get("reward")
    reward = float(raw_reward) if isinstance(raw_reward, int | float) and not isinstance(raw_reward, bool) else None
    annotations = _annotations(record, reward)
    builder = RunBuilder(
        session_id_for(FORMAT, f"{record.get('task_id')}-t{record.get('trial')}", record), FORMAT, framework=FORMAT
    )
    instruction = annotations["task"]["instruction"]
    builder.start(AGENT, task=instruction if isinstance(instruction, str) else None, annotations=annotations)
    calls: dict[str, tuple[str, str | None]] = {}
    for step, message in enumerate(traj):
        if not isinstance(message, dict):
            raise ValueError(f"traj[{step}] should be an object")
        role = str(message.get("role") or "unknown")
        content = as_text(message.get("content"))
        attributes = {MESSAGE_ROLE: role}
        if role == "tool":
            call_id = str(message.get("tool_call_id") or "")
            parent, name = calls.get(call_id, (None, message.get("name")))
            failed = isinstance(content, str) and content.startswith("Error")
            result_attributes = {**attributes, semconv.GEN_AI_TOOL_CALL_ID: call_id}
            if name:
                result_attributes[semconv.GEN_AI_TOOL_NAME] = name
            builder.add(
                EventType.TOOL_RESULT,
                AGENT,
                content=content,
                name=name,
                step_index=step,
                parent_id=parent,
                attributes=result_attributes,
                status=EventStatus.ERROR if failed else EventStatus.OK,
            )
            continue
        agent = AGENT if role == "assistant" else USER if role == "user" else role
        turn = None
        if content or not message.get("tool_calls"):
            turn = builder.add(EventType.MESSAGE, agent, content=content, step_index=step, attributes=attributes)
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            name = str(function.get("name") or "tool")
            call_id = str(call.get("id") or "")
            arguments = function.get("arguments")
            event_id = builder.add(
                EventType.TOOL_CALL,
                agent,
                content=as_text(arguments),
                name=name,
                step_index=step,
                parent_id=turn,
                attributes={
                    **attributes,
                    semconv.GEN_AI_TOOL_NAME: name,
                    semconv.GEN_AI_TOOL_CALL_ID: call_id,
                    TOOL_ARGUMENTS: tool_arguments(arguments),
                },
            )
            calls[call_id] = (event_id, name)
    builder.finish(AGENT, success=annotations["labels"]["success"], score=reward)
    return builder.build(ref)


class TauBenchImporter:
    """tau-bench historical trajectories."""

    name = FORMAT

    def read(self, source: Source) -> Iterator[ImportItem]:
        """One run per element of the JSON list (or per line of JSON Lines)."""
        return convert_records(source, convert)
