"""What causal discovery measures in a session: agent actions, their results, and per-session features.

Everything here reads only event kinds, statuses, roles, tool names and tool arguments, so it applies to any
framework's traces. Two heuristics look at what an action does: whether it edits a file and whether it runs tests;
they match common tool names and shell commands of coding agents, and are simply zero for agents that do neither
(a constant feature is then left out of the search).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.semconv_otlp import GEN_AI_TOOL_CALL_ARGUMENTS

STEPS = "steps"
"""Agent turns in the session (log scale)."""
TOOL_ERRORS = "tool_errors"
"""Tool results or error events with status error (log scale)."""
REPEATED_ACTIONS = "repeated_actions"
"""Actions identical to an earlier action of the session: same tool, same arguments (log scale)."""
REASONING_SHARE = "reasoning_share"
"""Share of the agent's own text written as thoughts or plans rather than as actions or messages."""
EDITS_BEFORE_TEST = "edits_before_test"
"""File edits before the first test run (all edits when no test ran; log scale)."""
TOKENS = "tokens_per_step"
"""Input plus output tokens per agent turn (log scale): the size of the context the agent worked with."""
OUTCOME = "outcome"
"""1 when the session succeeded, 0 when it failed."""

SESSION_FEATURES = (STEPS, TOOL_ERRORS, REPEATED_ACTIONS, REASONING_SHARE, EDITS_BEFORE_TEST, TOKENS)
"""The process features, in the order they are tabulated; the outcome comes last."""

_ROLE = "message.role"
_OTHER_ROLES = frozenset({"user", "system", "tool", "human", "environment"})
_REASONING_TYPES = frozenset({EventType.THOUGHT, EventType.PLAN, EventType.DECISION})
_AUTHORED_TYPES = _REASONING_TYPES | {EventType.MESSAGE, EventType.LLM_RESPONSE, EventType.TOOL_CALL}
_ACTION_TYPES = frozenset({EventType.TOOL_CALL, EventType.HANDOFF})
_RESULT_TYPES = frozenset({EventType.TOOL_RESULT, EventType.ERROR})

_TEST_TOOL = re.compile(r"test", re.IGNORECASE)
_TEST_COMMAND = re.compile(
    r"\b(pytest|py\.test|unittest|nosetests|tox|runtests|go test|cargo test|npm (run )?test|yarn test|mvn test|"
    r"gradle test|make test|ctest|rspec|jest|mocha)\b"
    r"|\bpython\S*\s+(-\w+\s+)*\S*(test|reproduc)\S*\.py\b",
    re.IGNORECASE,
)
_EDIT_TOOL = re.compile(r"edit|write|replace|patch|insert|create_file", re.IGNORECASE)
_EDIT_COMMAND = re.compile(
    r"\bsed\s+(-\w+\s+)*-i|\bperl\s+-\w*i|>\s*[\w./-]+\.\w+|\bcat\s*<<|\btee\s|\bapply_patch\b|\bgit apply\b|"
    r"\bpatch\s+-p|\.write\(|\bstr_replace\b",
)


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the agent did (a tool call or a handoff) and how its result went."""

    event: AgentEvent
    key: str
    """Tool name and normalised arguments: two actions with the same key did the same thing."""
    failed: bool
    repeated: bool
    """Whether an earlier action of the session had the same key."""
    reasoning_chars: int
    """Characters of thought or plan text the agent wrote since its previous action."""
    tokens: int
    """Tokens of the LLM turns since the previous action."""


def is_agent_authored(event: AgentEvent) -> bool:
    """Whether the agent wrote this event (not a user, system prompt or tool output)."""
    if event.type not in _AUTHORED_TYPES:
        return False
    return str(event.attributes.get(_ROLE, "")).lower() not in _OTHER_ROLES


def _arguments_text(event: AgentEvent) -> str:
    arguments: Any = event.attributes.get(GEN_AI_TOOL_CALL_ARGUMENTS)
    if isinstance(arguments, dict | list):
        return json.dumps(arguments, sort_keys=True, default=str)
    if arguments:
        return str(arguments)
    return event.content or ""


def action_key(event: AgentEvent) -> str:
    """What an action did, as a string: its tool (or name) and its arguments with whitespace collapsed."""
    tool = event.attributes.get(semconv.GEN_AI_TOOL_NAME) or event.name or event.type.value
    return f"{tool}\x1f{' '.join(_arguments_text(event).split())}"


def is_test_action(event: AgentEvent) -> bool:
    """Whether an action runs tests or a reproduction script (by tool name or shell command)."""
    tool = str(event.attributes.get(semconv.GEN_AI_TOOL_NAME) or event.name or "")
    return bool(_TEST_TOOL.search(tool) or _TEST_COMMAND.search(_arguments_text(event)))


def is_edit_action(event: AgentEvent) -> bool:
    """Whether an action writes or edits a file (by tool name or shell command)."""
    tool = str(event.attributes.get(semconv.GEN_AI_TOOL_NAME) or event.name or "")
    return bool(_EDIT_TOOL.search(tool) or _EDIT_COMMAND.search(_arguments_text(event)))


def _result_failed(result: AgentEvent | None) -> bool:
    return result is not None and (result.status is EventStatus.ERROR or result.type is EventType.ERROR)


def _match_results(events: Sequence[AgentEvent]) -> dict[int, AgentEvent]:
    """Position of each action -> its result: by parent link, by tool-call id, else the next unclaimed result."""
    results: dict[int, AgentEvent] = {}
    claimed: set[int] = set()
    by_parent = {event.parent_id: index for index, event in enumerate(events) if event.type in _RESULT_TYPES}
    for index, event in enumerate(events):
        if event.type not in _ACTION_TYPES:
            continue
        call_id = event.attributes.get(semconv.GEN_AI_TOOL_CALL_ID)
        found = by_parent.get(event.id)
        if found is None or found in claimed:
            found = None
            for later in range(index + 1, len(events)):
                candidate = events[later]
                if later in claimed or candidate.type not in _RESULT_TYPES:
                    continue
                other_id = candidate.attributes.get(semconv.GEN_AI_TOOL_CALL_ID)
                if call_id is None or other_id is None or other_id == call_id:
                    found = later
                    break
        if found is not None:
            claimed.add(found)
            results[index] = events[found]
    return results


def extract_actions(events: Sequence[AgentEvent]) -> list[Action]:
    """The session's actions in order, each with its result, whether it repeats, and the reasoning before it."""
    results = _match_results(events)
    seen: set[str] = set()
    actions: list[Action] = []
    reasoning = tokens = 0
    for index, event in enumerate(events):
        if event.type in _REASONING_TYPES and is_agent_authored(event):
            reasoning += len(event.content or "")
        tokens += (event.tokens_input or 0) + (event.tokens_output or 0)
        if event.type not in _ACTION_TYPES:
            continue
        key = action_key(event)
        actions.append(Action(event, key, _result_failed(results.get(index)), key in seen, reasoning, tokens))
        seen.add(key)
        reasoning = tokens = 0
    return actions


def session_outcome(events: Sequence[AgentEvent]) -> bool | None:
    """Success as the trace recorded it (the session_end's outcome attribute or status), or None when unknown."""
    for event in reversed(events):
        if event.type is not EventType.SESSION_END:
            continue
        success = event.attributes.get(semconv.ESCAI_OUTCOME_SUCCESS)
        if isinstance(success, bool):
            return success
        if event.status is not EventStatus.UNSET:
            return event.status is EventStatus.OK
    return None


def _edits_before_first_test(actions: Sequence[Action]) -> int:
    edits = 0
    for action in actions:
        if is_test_action(action.event):
            return edits
        edits += is_edit_action(action.event)
    return edits


def _reasoning_share(events: Sequence[AgentEvent]) -> float:
    authored = reasoning = 0
    for event in events:
        if not is_agent_authored(event):
            continue
        size = len(event.content or "") if event.type is not EventType.TOOL_CALL else len(_arguments_text(event))
        authored += size
        if event.type in _REASONING_TYPES:
            reasoning += size
    return reasoning / authored if authored else 0.0


def extract_session_features(events: Sequence[AgentEvent], outcome: bool | None = None) -> dict[str, float]:
    """The session's features (see :data:`SESSION_FEATURES`), counts on a log scale, plus the outcome when known.

    ``outcome`` overrides what the trace's session_end says; without either, the result has no ``outcome`` key.
    """
    actions = extract_actions(events)
    steps = {event.step_index if event.step_index is not None else -index for index, event in enumerate(events)}
    authored_steps = {
        event.step_index if event.step_index is not None else -index
        for index, event in enumerate(events)
        if is_agent_authored(event)
    }
    errors = sum(1 for event in events if event.type in _RESULT_TYPES and _result_failed(event))
    tokens = sum((event.tokens_input or 0) + (event.tokens_output or 0) for event in events)
    turns = len(authored_steps) or len(steps)
    features = {
        STEPS: math.log1p(turns),
        TOOL_ERRORS: math.log1p(errors),
        REPEATED_ACTIONS: math.log1p(sum(action.repeated for action in actions)),
        REASONING_SHARE: _reasoning_share(events),
        EDITS_BEFORE_TEST: math.log1p(_edits_before_first_test(actions)),
        TOKENS: math.log1p(tokens / max(turns, 1)),
    }
    known = outcome if outcome is not None else session_outcome(events)
    if known is not None:
        features[OUTCOME] = float(known)
    return features


def outcomes_from_annotations(annotations: Mapping[str, Any]) -> bool | None:
    """Success as an importer's ``annotations["labels"]["success"]`` records it, or None."""
    labels = annotations.get("labels")
    if isinstance(labels, Mapping) and isinstance(labels.get("success"), bool):
        return bool(labels["success"])
    return None
