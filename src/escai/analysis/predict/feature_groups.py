"""The built-in structural feature groups: ``events`` (counts, outcomes, streaks, repeats, time, tokens) and
``actions`` (hashed counts of normalised actions).

Both are computed incrementally: each event costs a constant amount of work, whatever the length of the run.
Nothing here reads names of particular agents, tasks or tools: actions are normalised by
:func:`escai.analysis.behaviour.sequences.tool_action` (the program for shell tools, else the tool name) and
hashed into a fixed number of buckets, so a model can learn "this kind of action, this often" in any domain.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime

from escai.analysis.behaviour.sequences import result_outcome, tool_action
from escai.analysis.predict.features import EVIDENCE_KEPT, register_feature_group
from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType

AGENT_ROLES = frozenset({"assistant", "agent", "ai", "model"})
OTHER_ROLES = frozenset({"user", "human", "customer"})
RECENT_WINDOW = 10
"""Outcomes of the most recent tool results that the recent error rate is computed over."""
ACTION_BUCKETS = 24
"""Hash buckets for normalised action names."""

EVENT_FEATURES: dict[str, str] = {
    "steps": "steps so far",
    "tool_calls": "tool calls",
    "tool_errors": "failed tool calls",
    "tool_error_rate": "share of tool results that failed",
    "recent_error_rate": f"share of the last {RECENT_WINDOW} tool results that failed",
    "error_events": "error events",
    "error_streak": "failing results in a row up to now",
    "longest_error_streak": "longest streak of failing results",
    "agent_messages": "messages by the agent",
    "other_messages": "messages by the other party (user, customer)",
    "other_message_share": "share of messages written by the other party",
    "thoughts": "thoughts and reasoning steps",
    "tools_per_turn": "tool calls per agent turn",
    "repeated_calls": "tool calls identical to an earlier one",
    "repeat_share": "share of tool calls identical to an earlier one",
    "max_identical_calls": "most times one identical call was made",
    "same_action_run": "calls of the same action in a row up to now",
    "distinct_actions": "distinct actions used",
    "calls_since_other_message": "tool calls since the other party last spoke",
    "tokens": "tokens used",
    "tokens_per_step": "tokens per step",
    "cost": "cost so far",
    "elapsed_seconds": "seconds since the first step",
    "last_gap_seconds": "seconds between the last two steps",
    "agent_text_chars": "mean characters of the agent's text",
    "tool_output_chars": "mean characters of a tool result",
    "last_output_chars": "characters of the latest tool result",
    "task_chars": "characters of the task description",
    "agents": "agents taking part",
}


def message_side(event: AgentEvent, main_agent: str | None) -> str:
    """Who wrote a message: ``agent``, ``other`` (user, customer), ``system`` or ``tool``.

    The recorded chat role decides; without one, the session's main agent (the one that started it) is the agent.
    """
    role = str(event.attributes.get(semconv.MESSAGE_ROLE) or "").lower()
    if role in AGENT_ROLES:
        return "agent"
    if role in OTHER_ROLES:
        return "other"
    if role in ("system", "tool"):
        return role
    return "agent" if main_agent is None or event.agent_id == main_agent else "other"


def _is_failure(event: AgentEvent) -> bool:
    if event.type is EventType.TOOL_RESULT:
        return result_outcome(event) == "error"
    return event.type is EventType.ERROR or event.status is EventStatus.ERROR


class _Evidence:
    def __init__(self) -> None:
        self.ids: dict[str, deque[str]] = {}

    def add(self, feature: str, event_id: str) -> None:
        self.ids.setdefault(feature, deque(maxlen=EVIDENCE_KEPT)).append(event_id)

    def as_mapping(self) -> dict[str, Sequence[str]]:
        return {name: tuple(ids) for name, ids in self.ids.items()}


class _EventCounts:
    """Accumulator of the ``events`` group."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(EVENT_FEATURES, 0.0)
        self.main_agent: str | None = None
        self.agent_ids: set[str] = set()
        self.results = 0
        self.recent: deque[bool] = deque(maxlen=RECENT_WINDOW)
        self.signatures: dict[str, int] = {}
        self.actions: set[str] = set()
        self.last_action: str | None = None
        self.agent_turns = 0
        self.agent_chars = 0
        self.agent_texts = 0
        self.output_chars = 0
        self.first_time: datetime | None = None
        self.last_time: datetime | None = None
        self.proof = _Evidence()

    def update(self, event: AgentEvent) -> None:
        counts = self.counts
        if event.type is EventType.SESSION_START:
            self.main_agent = event.agent_id
            counts["task_chars"] = float(len(event.attributes.get(semconv.ESCAI_TASK) or event.content or ""))
            self.proof.add("task_chars", event.id)
            return
        counts["steps"] += 1
        self.proof.add("steps", event.id)
        self.agent_ids.add(event.agent_id)
        counts["agents"] = float(len(self.agent_ids))
        self._update_time(event)
        counts["tokens"] += (event.tokens_input or 0) + (event.tokens_output or 0)
        counts["tokens_per_step"] = counts["tokens"] / counts["steps"]
        counts["cost"] += event.cost or 0.0
        if event.type is EventType.TOOL_CALL:
            self._update_call(event)
        elif event.type in (EventType.TOOL_RESULT, EventType.ERROR):
            self._update_outcome(event)
        elif event.type is EventType.MESSAGE:
            self._update_message(event)
        elif event.type in (EventType.THOUGHT, EventType.LLM_RESPONSE, EventType.PLAN, EventType.DECISION):
            counts["thoughts"] += 1
            self._add_agent_text(event)

    def _update_time(self, event: AgentEvent) -> None:
        if self.first_time is None:
            self.first_time = event.timestamp
        if self.last_time is not None:
            self.counts["last_gap_seconds"] = max(0.0, (event.timestamp - self.last_time).total_seconds())
        self.last_time = event.timestamp
        self.counts["elapsed_seconds"] = (event.timestamp - self.first_time).total_seconds()

    def _add_agent_text(self, event: AgentEvent) -> None:
        if event.content:
            self.agent_chars += len(event.content)
            self.agent_texts += 1
            self.counts["agent_text_chars"] = self.agent_chars / self.agent_texts
            self.proof.add("agent_text_chars", event.id)

    def _update_call(self, event: AgentEvent) -> None:
        counts = self.counts
        counts["tool_calls"] += 1
        self.proof.add("tool_calls", event.id)
        counts["calls_since_other_message"] += 1
        action = tool_action(event)
        self.actions.add(action)
        counts["distinct_actions"] = float(len(self.actions))
        counts["same_action_run"] = counts["same_action_run"] + 1 if action == self.last_action else 1.0
        self.last_action = action
        signature = f"{event.name}|{event.content}"
        seen = self.signatures.get(signature, 0)
        self.signatures[signature] = seen + 1
        if seen:
            counts["repeated_calls"] += 1
            self.proof.add("repeated_calls", event.id)
        counts["max_identical_calls"] = max(counts["max_identical_calls"], float(seen + 1))
        counts["repeat_share"] = counts["repeated_calls"] / counts["tool_calls"]
        counts["tools_per_turn"] = counts["tool_calls"] / max(1, self.agent_turns)

    def _update_outcome(self, event: AgentEvent) -> None:
        counts = self.counts
        failed = _is_failure(event)
        if event.type is EventType.ERROR:
            counts["error_events"] += 1
            self.proof.add("error_events", event.id)
        else:
            self.results += 1
            self.output_chars += len(event.content or "")
            counts["tool_output_chars"] = self.output_chars / self.results
            counts["last_output_chars"] = float(len(event.content or ""))
            self.proof.add("tool_output_chars", event.id)
            self.proof.ids["last_output_chars"] = deque([event.id], maxlen=1)
            if failed:
                counts["tool_errors"] += 1
                self.proof.add("tool_errors", event.id)
            counts["tool_error_rate"] = counts["tool_errors"] / self.results
        self.recent.append(failed)
        counts["recent_error_rate"] = sum(self.recent) / len(self.recent)
        counts["error_streak"] = counts["error_streak"] + 1 if failed else 0.0
        counts["longest_error_streak"] = max(counts["longest_error_streak"], counts["error_streak"])
        if failed:
            self.proof.add("error_streak", event.id)
            self.proof.add("recent_error_rate", event.id)

    def _update_message(self, event: AgentEvent) -> None:
        counts = self.counts
        role = message_side(event, self.main_agent)
        if role == "agent":
            counts["agent_messages"] += 1
            self.agent_turns += 1
            self._add_agent_text(event)
            self.proof.add("agent_messages", event.id)
        elif role == "other":
            counts["other_messages"] += 1
            counts["calls_since_other_message"] = 0.0
            self.proof.add("other_messages", event.id)
        talking = counts["agent_messages"] + counts["other_messages"]
        counts["other_message_share"] = counts["other_messages"] / talking if talking else 0.0

    def values(self) -> dict[str, float]:
        return dict(self.counts)

    def evidence(self) -> Mapping[str, Sequence[str]]:
        return self.proof.as_mapping()


class EventsGroup:
    """Counts, outcomes, streaks, repeats, time and tokens of the steps so far."""

    name = "events"
    descriptions: Mapping[str, str] = EVENT_FEATURES

    def start(self) -> _EventCounts:
        """A fresh accumulator."""
        return _EventCounts()


def action_bucket(action: str) -> int:
    """The hash bucket of a normalised action name (stable across processes, unlike ``hash``)."""
    return zlib.crc32(action.encode()) % ACTION_BUCKETS


ACTION_FEATURES: dict[str, str] = {
    **{f"action_{bucket:02d}": f"calls of actions in hash bucket {bucket}" for bucket in range(ACTION_BUCKETS)},
    **{f"action_{bucket:02d}_failed": f"failed calls in hash bucket {bucket}" for bucket in range(ACTION_BUCKETS)},
}


class _ActionCounts:
    def __init__(self) -> None:
        self.counts = dict.fromkeys(ACTION_FEATURES, 0.0)
        self.pending: dict[str, int] = {}
        self.last_bucket: int | None = None
        self.proof = _Evidence()

    def update(self, event: AgentEvent) -> None:
        if event.type is EventType.TOOL_CALL:
            action = tool_action(event)
            bucket = action_bucket(action)
            self.counts[f"action_{bucket:02d}"] += 1
            self.proof.add(f"action_{bucket:02d}", event.id)
            call_id = event.attributes.get(semconv.GEN_AI_TOOL_CALL_ID)
            self.pending[str(call_id) if call_id else event.id] = bucket
            self.last_bucket = bucket
        elif event.type is EventType.TOOL_RESULT:
            call_id = event.attributes.get(semconv.GEN_AI_TOOL_CALL_ID)
            key = str(call_id) if call_id else event.parent_id
            found = self.pending.pop(key, None) if key else None
            result_bucket = found if found is not None else self.last_bucket
            if result_bucket is not None and result_outcome(event) == "error":
                self.counts[f"action_{result_bucket:02d}_failed"] += 1
                self.proof.add(f"action_{result_bucket:02d}_failed", event.id)

    def values(self) -> dict[str, float]:
        return dict(self.counts)

    def evidence(self) -> Mapping[str, Sequence[str]]:
        return self.proof.as_mapping()


class ActionsGroup:
    """Hashed counts of normalised actions and of their failures."""

    name = "actions"
    descriptions: Mapping[str, str] = ACTION_FEATURES

    def start(self) -> _ActionCounts:
        """A fresh accumulator."""
        return _ActionCounts()


register_feature_group(EventsGroup.name, EventsGroup)
register_feature_group(ActionsGroup.name, ActionsGroup)
