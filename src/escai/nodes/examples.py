"""A built-in session plugin: tool calls and tool failures per tool (registered as ``tool_failures``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from escai.nodes.base import ComputeNode
from escai.nodes.contracts import NoConfig
from escai.nodes.plugins import SESSION_HOOK, SessionInput

__all__ = ["ToolFailureCounter", "ToolFailureCounts"]

_UNKNOWN_TOOL = "unknown"


class ToolFailureCounts(BaseModel):
    """Calls, failures and failure rate per tool in one session."""

    calls_by_tool: dict[str, int] = Field(default_factory=dict)
    failures_by_tool: dict[str, int] = Field(default_factory=dict)
    failure_rate_by_tool: dict[str, float] = Field(default_factory=dict)
    total_calls: int = 0
    total_failures: int = 0


def _tool_name(event: dict[str, Any]) -> str:
    attributes = event.get("attributes") or {}
    name = event.get("name") or attributes.get("gen_ai.tool.name")
    return str(name) if name else _UNKNOWN_TOOL


class ToolFailureCounter(ComputeNode[SessionInput, ToolFailureCounts, NoConfig]):
    """Count tool invocations and failed ones per tool.

    An invocation is a ``tool_call`` event (or a ``tool_result`` with no call before it); it failed when its result
    has status ``error``, or when the call itself has status ``error`` and no failed result reports it again.
    """

    input_model = SessionInput
    output_model = ToolFailureCounts
    hook = SESSION_HOOK
    mixins = ("validation",)

    def compute(self, data: SessionInput) -> ToolFailureCounts:
        """Count calls and failures per tool from the session's events."""
        events = data.event_dicts()
        call_ids = {event.get("id") for event in events if event.get("type") == "tool_call"}
        failed_result_parents = {
            event.get("parent_id")
            for event in events
            if event.get("type") == "tool_result" and event.get("status") == "error"
        }
        calls: dict[str, int] = {}
        failures: dict[str, int] = {}
        for event in events:
            event_type = event.get("type")
            if event_type not in ("tool_call", "tool_result"):
                continue
            tool = _tool_name(event)
            orphan_result = event_type == "tool_result" and event.get("parent_id") not in call_ids
            if event_type == "tool_call" or orphan_result:
                calls[tool] = calls.get(tool, 0) + 1
            failed_call = (
                event_type == "tool_call"
                and event.get("status") == "error"
                and event.get("id") not in failed_result_parents
            )
            failed_result = event_type == "tool_result" and event.get("status") == "error"
            if failed_call or failed_result:
                failures[tool] = failures.get(tool, 0) + 1
        for tool in failures:
            calls.setdefault(tool, failures[tool])
        rates = {tool: round(failures.get(tool, 0) / count, 6) for tool, count in sorted(calls.items())}
        return ToolFailureCounts(
            calls_by_tool=dict(sorted(calls.items())),
            failures_by_tool=dict(sorted(failures.items())),
            failure_rate_by_tool=rates,
            total_calls=sum(calls.values()),
            total_failures=sum(failures.values()),
        )
