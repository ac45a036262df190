"""Scripted agent runs for the demo: realistic event streams of agents that succeed and fail.

These are plain-Python agents with canned model outputs (no network, no API keys). They produce the same kinds
of events that the framework instrumentors produce, so every part of ESCAI has something real to show.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType


@dataclass
class _Recorder:
    session_id: str
    framework: str
    clock: datetime = field(default_factory=lambda: datetime.now(UTC))
    step: int = 0
    events: list[AgentEvent] = field(default_factory=list)

    def emit(self, agent: str, kind: EventType, content: str | None = None, **extra: Any) -> AgentEvent:
        self.clock += timedelta(milliseconds=extra.pop("elapsed_ms", 150))
        event = AgentEvent(
            session_id=self.session_id,
            agent_id=agent,
            agent_name=agent.replace("-", " ").title(),
            framework=self.framework,
            type=kind,
            content=content,
            step_index=self.step,
            timestamp=self.clock,
            **extra,
        )
        self.step += 1
        self.events.append(event)
        return event


def research_assistant(succeed: bool = True) -> list[AgentEvent]:
    """A single agent that searches, reads and answers a question; fails when the source is unreachable."""
    run = _Recorder(f"demo-research-{uuid.uuid4().hex[:8]}", "langgraph")
    agent = "research-assistant"
    task = "What year did the Hubble Space Telescope launch, and on which shuttle?"
    start = run.emit(agent, EventType.SESSION_START, task, attributes={semconv.ESCAI_TASK: task})
    run.emit(agent, EventType.PLAN, "1. search for the launch record 2. confirm with a second source 3. answer")
    run.emit(agent, EventType.LLM_REQUEST, task, name="gpt-4o-mini", parent_id=start.id)
    run.emit(
        agent,
        EventType.LLM_RESPONSE,
        "I should search for the Hubble launch date.",
        name="gpt-4o-mini",
        tokens_input=212,
        tokens_output=18,
        cost=0.00004,
        duration_ms=640,
        status=EventStatus.OK,
        attributes={semconv.GEN_AI_REQUEST_MODEL: "gpt-4o-mini"},
    )
    call = run.emit(agent, EventType.TOOL_CALL, '{"query": "Hubble launch date shuttle"}', name="web_search")
    if succeed:
        run.emit(
            agent,
            EventType.TOOL_RESULT,
            "Hubble was launched on 24 April 1990 aboard Space Shuttle Discovery (STS-31).",
            name="web_search",
            parent_id=call.id,
            status=EventStatus.OK,
            duration_ms=410,
        )
        run.emit(agent, EventType.THOUGHT, "The result is specific and cites the mission; I am confident.")
        run.emit(agent, EventType.MESSAGE, "Hubble launched in 1990 aboard Space Shuttle Discovery (STS-31).")
        run.emit(
            agent,
            EventType.SESSION_END,
            "answered",
            status=EventStatus.OK,
            attributes={semconv.ESCAI_OUTCOME_SUCCESS: True, semconv.ESCAI_OUTCOME_SCORE: 1.0},
        )
    else:
        for attempt in range(3):
            run.emit(
                agent,
                EventType.TOOL_RESULT,
                "ConnectionError: search backend timed out",
                name="web_search",
                parent_id=call.id,
                status=EventStatus.ERROR,
                duration_ms=5000,
            )
            run.emit(agent, EventType.THOUGHT, f"The search failed (attempt {attempt + 1}); maybe I should retry.")
            call = run.emit(agent, EventType.TOOL_CALL, '{"query": "Hubble launch date"}', name="web_search")
        run.emit(
            agent,
            EventType.ERROR,
            "gave up after 3 failed searches",
            status=EventStatus.ERROR,
            attributes={semconv.ESCAI_ERROR_TYPE: "ToolError"},
        )
        run.emit(
            agent,
            EventType.SESSION_END,
            "failed",
            status=EventStatus.ERROR,
            attributes={semconv.ESCAI_OUTCOME_SUCCESS: False, semconv.ESCAI_OUTCOME_SCORE: 0.0},
        )
    return run.events


def coding_team(succeed: bool) -> list[AgentEvent]:
    """A planner, a coder and a reviewer fixing a bug; the failing run loops on the same broken patch."""
    run = _Recorder(f"demo-team-{uuid.uuid4().hex[:8]}", "autogen")
    task = "Fix the off-by-one error in pagination.py so that test_last_page passes."
    run.emit("planner", EventType.SESSION_START, task, attributes={semconv.ESCAI_TASK: task})
    run.emit("planner", EventType.PLAN, "Read pagination.py, find the slice bound, patch it, run the tests.")
    run.emit(
        "planner",
        EventType.HANDOFF,
        "coder: please patch the slice in pagination.py",
        attributes={semconv.ESCAI_HANDOFF_TARGET: "coder"},
    )
    attempts = 1 if succeed else 4
    for attempt in range(attempts):
        run.emit("coder", EventType.THOUGHT, "The end index should be start + size, not start + size - 1.")
        run.emit("coder", EventType.TOOL_CALL, "apply_patch pagination.py", name="apply_patch")
        run.emit("coder", EventType.TOOL_RESULT, "patch applied", name="apply_patch", status=EventStatus.OK)
        run.emit("coder", EventType.TOOL_CALL, "pytest tests/test_pagination.py", name="run_tests")
        if succeed:
            run.emit("coder", EventType.TOOL_RESULT, "3 passed in 0.12s", name="run_tests", status=EventStatus.OK)
        else:
            run.emit(
                "coder",
                EventType.TOOL_RESULT,
                f"FAILED test_last_page - AssertionError: expected 5 items, got 4 (attempt {attempt + 1})",
                name="run_tests",
                status=EventStatus.ERROR,
            )
        run.emit(
            "coder",
            EventType.HANDOFF,
            "reviewer: please check",
            attributes={semconv.ESCAI_HANDOFF_TARGET: "reviewer"},
        )
        verdict = "Looks right; tests pass." if succeed else "Tests still fail; the patch did not change the bound."
        run.emit("reviewer", EventType.MESSAGE, verdict)
    outcome = {semconv.ESCAI_OUTCOME_SUCCESS: succeed, semconv.ESCAI_OUTCOME_SCORE: 1.0 if succeed else 0.0}
    run.emit(
        "planner",
        EventType.SESSION_END,
        "done" if succeed else "gave up",
        status=EventStatus.OK if succeed else EventStatus.ERROR,
        attributes=outcome,
    )
    return run.events


def support_agent() -> list[AgentEvent]:
    """A customer-support agent whose conversation contains personal data that ESCAI masks before storing."""
    run = _Recorder(f"demo-support-{uuid.uuid4().hex[:8]}", "openai")
    agent = "support-agent"
    task = "Change the delivery address of order 4411."
    run.emit(agent, EventType.SESSION_START, task, attributes={semconv.ESCAI_TASK: task})
    run.emit(
        agent,
        EventType.MESSAGE,
        "Hi, I'm jane.doe@example.com, phone +1 415 555 0134; my card is "
        "4111 1111 1111 1111. Please send order 4411 to my new address.",
    )
    run.emit(
        agent,
        EventType.TOOL_CALL,
        '{"order": 4411, "api_key": "sk-demo-1234567890abcdefghij"}',
        name="update_order",
    )
    run.emit(agent, EventType.TOOL_RESULT, "order 4411 updated", name="update_order", status=EventStatus.OK)
    run.emit(
        agent,
        EventType.SESSION_END,
        "done",
        status=EventStatus.OK,
        attributes={semconv.ESCAI_OUTCOME_SUCCESS: True},
    )
    return run.events


def demo_runs() -> Iterator[tuple[str, list[AgentEvent]]]:
    """The demo's runs, with a label for each."""
    yield "research assistant (succeeds)", research_assistant(succeed=True)
    yield "research assistant (tool keeps failing)", research_assistant(succeed=False)
    yield "coding team (succeeds)", coding_team(succeed=True)
    yield "coding team (loops on a broken patch)", coding_team(succeed=False)
    yield "support agent (PII masked)", support_agent()
