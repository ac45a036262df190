"""Demo teams built with AutoGen AgentChat and replayed model outputs: a planner/coder/reviewer team that fixes a
bug, and one that keeps submitting the same broken patch until the turn limit stops it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core.models import CreateResult, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

TASK = "Fix the off-by-one error in pagination.py so that test_last_page passes."


def _reply(text: str, prompt_tokens: int = 180, completion_tokens: int = 40) -> CreateResult:
    return CreateResult(
        finish_reason="stop",
        content=text,
        usage=RequestUsage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
        cached=False,
    )


def _team(replies: dict[str, list[CreateResult]], termination: Any) -> RoundRobinGroupChat:
    def agent(name: str, tools: list[Any] | None = None) -> AssistantAgent:
        client = ReplayChatCompletionClient(replies[name])
        return AssistantAgent(name, model_client=client, tools=tools, reflect_on_tool_use=False)

    return RoundRobinGroupChat([agent("planner"), agent("coder"), agent("reviewer")], termination_condition=termination)


def run_coding_team() -> str:
    """Planner, coder and reviewer fix the bug; the reviewer approves."""
    team = _team(
        {
            "planner": [_reply("Plan: read pagination.py, change the slice end to start + size, run the tests.")],
            "coder": [_reply("Patched pagination.py: the slice end is now start + size. Tests: 3 passed.")],
            "reviewer": [_reply("The bound is right and the tests pass. APPROVE")],
        },
        TextMentionTermination("APPROVE") | MaxMessageTermination(12),
    )
    result = asyncio.run(team.run(task=TASK))
    return str(result.stop_reason)


def run_looping_team() -> None:
    """The coder resubmits the same broken patch; the reviewer rejects it every time until the turn limit."""
    broken = "Patched pagination.py: end = start + size - 1. Tests: FAILED test_last_page (expected 5, got 4)."
    team = _team(
        {
            "planner": [_reply("Plan: patch the slice and rerun the tests.")] * 4,
            "coder": [_reply(broken)] * 4,
            "reviewer": [_reply("Tests still fail; the bound did not change. Please fix it.")] * 4,
        },
        TextMentionTermination("APPROVE") | MaxMessageTermination(10),
    )
    result = asyncio.run(team.run(task=TASK))
    if "APPROVE" not in str(result.messages[-1].to_text()):
        raise RuntimeError(f"the team gave up without approval: {result.stop_reason}")


def scripts() -> Iterator[tuple[str, Any]]:
    """(label, callable) for each AutoGen demo run."""
    yield "AutoGen coding team (succeeds)", run_coding_team
    yield "AutoGen coding team (loops on a broken patch)", run_looping_team
