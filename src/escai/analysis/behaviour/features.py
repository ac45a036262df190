"""Numeric features of whole sessions and of single steps, shared by anomaly detection, clustering and prediction.

Features are read from the events alone, never from outcome labels: session start and end events are left out
of the step sequence (the end event's status is the outcome), so a model trained on these features cannot read
the answer. Every feature has a plain-language description used in explanations.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from escai.analysis.behaviour.loops import detect_loops, loop_coverage
from escai.analysis.behaviour.sequences import SessionSequence, Step, abstract_session
from escai.model.events import AgentEvent, EventType

SESSION_FEATURES: dict[str, str] = {
    "steps": "steps",
    "events": "events",
    "tool_calls": "tool calls",
    "tool_error_rate": "share of tool calls that failed",
    "error_events": "error events",
    "distinct_action_ratio": "share of distinct actions among steps",
    "longest_same_action_run": "longest run of one action",
    "longest_error_streak": "longest streak of failing steps",
    "exact_repeat_share": "share of steps repeating an earlier identical action",
    "loop_share": "share of steps inside loops",
    "message_share": "share of steps that are messages",
    "think_share": "share of steps that are thoughts without an action",
    "late_error_rate": "share of failing steps in the last quarter",
    "mean_output_chars": "mean characters of tool output",
    "mean_input_chars": "mean characters of an action",
    "tokens": "tokens",
    "duration_seconds": "duration in seconds",
    "agents": "agents taking part",
}
"""Session feature names and what they mean."""

STEP_FEATURES: dict[str, str] = {
    "position": "position in the run (0 = start, 1 = end)",
    "is_error": "the step failed",
    "is_tool": "the step is a tool call",
    "is_message": "the step is a message",
    "input_chars": "characters of the action",
    "output_chars": "characters of its output",
    "duration_ms": "duration in ms",
    "tokens": "tokens",
    "action_share": "share of this session's steps with the same action",
    "repeats_previous": "identical to the previous step",
    "times_seen_before": "times the identical action ran before in the session",
    "error_streak": "failing steps in a row ending here",
    "seconds_since_previous": "seconds since the previous step",
}
"""Step feature names and what they mean."""

COUNT_LIKE = frozenset(
    {
        "steps",
        "events",
        "tool_calls",
        "error_events",
        "longest_same_action_run",
        "longest_error_streak",
        "mean_output_chars",
        "mean_input_chars",
        "tokens",
        "duration_seconds",
        "agents",
        "input_chars",
        "output_chars",
        "duration_ms",
        "times_seen_before",
        "error_streak",
        "seconds_since_previous",
    }
)
"""Heavy-tailed features that models see on a log scale (``log1p``)."""


def _longest_run(values: Sequence[object]) -> int:
    longest = current = 0
    previous: object = object()
    for value in values:
        current = current + 1 if value == previous else 1
        longest = max(longest, current)
        previous = value
    return longest


def _longest_true_run(flags: Iterable[bool]) -> int:
    longest = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return longest


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def features_of_sequence(sequence: SessionSequence, events: Sequence[AgentEvent]) -> dict[str, float]:
    """Session features of an already abstracted session (``events`` are its raw events)."""
    steps = sequence.steps
    total = len(steps)
    tools = [step for step in steps if step.kind == EventType.TOOL_CALL.value]
    failing = [step.status == "error" for step in steps]
    late = steps[total - max(1, total // 4) :] if total else ()
    seen: set[str] = set()
    repeats = 0
    for step in steps:
        repeats += step.signature in seen
        seen.add(step.signature)
    times = [event.timestamp for event in events]
    return {
        "steps": float(total),
        "events": float(len(events)),
        "tool_calls": float(len(tools)),
        "tool_error_rate": _share(sum(step.status == "error" for step in tools), len(tools)),
        "error_events": float(sum(event.type is EventType.ERROR for event in events)),
        "distinct_action_ratio": _share(len({step.action for step in steps}), total),
        "longest_same_action_run": float(_longest_run([step.action for step in steps])),
        "longest_error_streak": float(_longest_true_run(failing)),
        "exact_repeat_share": _share(repeats, total),
        "loop_share": loop_coverage(steps, detect_loops(steps)),
        "message_share": _share(sum(step.kind == EventType.MESSAGE.value for step in steps), total),
        "think_share": _share(sum(step.action == "think" for step in steps), total),
        "late_error_rate": _share(sum(step.status == "error" for step in late), len(late)),
        "mean_output_chars": _share(sum(step.output_length for step in tools), len(tools)),
        "mean_input_chars": _share(sum(step.input_length for step in steps), total),
        "tokens": float(sum((event.tokens_input or 0) + (event.tokens_output or 0) for event in events)),
        "duration_seconds": (max(times) - min(times)).total_seconds() if times else 0.0,
        "agents": float(len({event.agent_id for event in events})),
    }


def session_features(events: Iterable[AgentEvent]) -> dict[str, float]:
    """Numeric features of one whole session (names and meanings in :data:`SESSION_FEATURES`)."""
    ordered = list(events)
    return features_of_sequence(abstract_session(ordered), ordered)


def features_of_steps(steps: Sequence[Step]) -> list[dict[str, float]]:
    """Step features of an already abstracted session's steps, in order."""
    counts = Counter(step.action for step in steps)
    seen: Counter[str] = Counter()
    rows = []
    streak = 0
    for position, step in enumerate(steps):
        previous = steps[position - 1] if position else None
        streak = streak + 1 if step.status == "error" else 0
        gap = (step.timestamp - previous.timestamp).total_seconds() if previous is not None else 0.0
        rows.append(
            {
                "position": position / (len(steps) - 1) if len(steps) > 1 else 0.0,
                "is_error": float(step.status == "error"),
                "is_tool": float(step.kind == EventType.TOOL_CALL.value),
                "is_message": float(step.kind == EventType.MESSAGE.value),
                "input_chars": float(step.input_length),
                "output_chars": float(step.output_length),
                "duration_ms": float(step.duration_ms or 0.0),
                "tokens": float(step.tokens),
                "action_share": counts[step.action] / len(steps),
                "repeats_previous": float(previous is not None and previous.signature == step.signature),
                "times_seen_before": float(seen[step.signature]),
                "error_streak": float(streak),
                "seconds_since_previous": max(0.0, gap),
            }
        )
        seen[step.signature] += 1
    return rows


def step_features(events: Iterable[AgentEvent]) -> list[dict[str, float]]:
    """Numeric features of each step of a session, aligned with ``abstract_session(events).steps``."""
    return features_of_steps(abstract_session(list(events)).steps)


def model_value(name: str, value: float) -> float:
    """The value a model sees for a feature: ``log1p`` for heavy-tailed counts, unchanged otherwise."""
    return math.log1p(max(0.0, value)) if name in COUNT_LIKE else value
