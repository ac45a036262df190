"""The built-in ``text`` feature group: cue words in what the agent says, what the other party says, and what
tools print.

The cues are general English and general tool-output conventions (hedging and apologies, claims of success,
corrections, error lines, test summaries), not words of any one benchmark. Each text is scanned once when its
event arrives, so the group stays incremental.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from escai.analysis.predict.feature_groups import message_side
from escai.analysis.predict.features import Evidence, register_feature_group
from escai.model.events import AgentEvent, EventType

_FLAGS = re.IGNORECASE
HEDGE = re.compile(
    r"\b(sorry|apologi[sz]e\w*|unfortunately|unable|cannot|can't|couldn't|not sure|unclear|might|maybe|perhaps|"
    r"seems?|appears?|possibly|i think|i believe)\b",
    _FLAGS,
)
ASSERT = re.compile(
    r"\b(successfully|success|done|fixed|resolved|confirmed|verified|completed?|works|working|correct(ly)?)\b", _FLAGS
)
CORRECTION = re.compile(r"\b(again|retry|instead|mistake|wrong|actually|oops|issue|problem|fail\w*|error\w*)\b", _FLAGS)
OTHER_PUSHBACK = re.compile(r"\b(no|not|wrong|actually|instead|but|however|mistake|don't|didn't|isn't)\b", _FLAGS)
OTHER_THANKS = re.compile(r"\b(thanks?|thank you|great|perfect|appreciate)\b", _FLAGS)
ERROR_LINE = re.compile(
    r"^.*(traceback|error|exception|failed|failure|not found|no such|invalid|denied|fatal|unable to).*$",
    _FLAGS | re.MULTILINE,
)
TESTS_PASSED = re.compile(r"\b(\d+ passed|passed|OK)\b")
TESTS_FAILED = re.compile(r"\b(\d+ failed|FAILED|FAIL|errors?=\d+)\b")
_SCANNED_CHARS = 20_000  # a huge tool output says no more about success than its first pages; bounds the cost

TEXT_FEATURES: dict[str, str] = {
    "agent_hedges": "hedging or apologetic words in the agent's text",
    "agent_hedge_rate": "hedging words per agent text",
    "last_agent_hedges": "hedging words in the agent's latest text",
    "agent_assertions": "claims of success in the agent's text",
    "agent_corrections": "words of correction or retrying in the agent's text",
    "agent_questions": "questions the agent asked",
    "agent_question_rate": "questions per agent text",
    "other_pushback": "words of disagreement in the other party's messages",
    "other_pushback_rate": "disagreement words per message of the other party",
    "other_thanks": "thanks in the other party's messages",
    "output_error_lines": "error lines in tool output",
    "last_output_error_lines": "error lines in the latest tool output",
    "tests_passed_mentions": "test-pass summaries in tool output",
    "tests_failed_mentions": "test-failure summaries in tool output",
    "last_tests_failed": "test-failure summaries in the latest tool output",
}


class _TextCues:
    def __init__(self) -> None:
        self.counts = dict.fromkeys(TEXT_FEATURES, 0.0)
        self.main_agent: str | None = None
        self.agent_texts = 0
        self.other_texts = 0
        self.proof = Evidence()

    def update(self, event: AgentEvent) -> None:
        if event.type is EventType.SESSION_START:
            self.main_agent = event.agent_id
            return
        text = (event.content or "")[:_SCANNED_CHARS]
        if event.type in (EventType.TOOL_RESULT, EventType.OBSERVATION, EventType.ERROR):
            self._scan_output(event, text)
            return
        if event.type not in (EventType.MESSAGE, EventType.THOUGHT, EventType.LLM_RESPONSE, EventType.PLAN):
            return
        role = "agent" if event.type is not EventType.MESSAGE else message_side(event, self.main_agent)
        if role == "agent":
            self._scan_agent(event, text)
        elif role == "other":
            self._scan_other(event, text)

    def _scan_agent(self, event: AgentEvent, text: str) -> None:
        counts = self.counts
        hedges = len(HEDGE.findall(text))
        self.agent_texts += 1
        counts["agent_hedges"] += hedges
        counts["agent_hedge_rate"] = counts["agent_hedges"] / self.agent_texts
        counts["last_agent_hedges"] = float(hedges)
        counts["agent_assertions"] += len(ASSERT.findall(text))
        counts["agent_corrections"] += len(CORRECTION.findall(text))
        counts["agent_questions"] += text.count("?")
        counts["agent_question_rate"] = counts["agent_questions"] / self.agent_texts
        if hedges:
            self.proof.add("agent_hedges", event.id)
            self.proof.add("last_agent_hedges", event.id)

    def _scan_other(self, event: AgentEvent, text: str) -> None:
        counts = self.counts
        pushback = len(OTHER_PUSHBACK.findall(text))
        self.other_texts += 1
        counts["other_pushback"] += pushback
        counts["other_pushback_rate"] = counts["other_pushback"] / self.other_texts
        counts["other_thanks"] += len(OTHER_THANKS.findall(text))
        if pushback:
            self.proof.add("other_pushback", event.id)

    def _scan_output(self, event: AgentEvent, text: str) -> None:
        counts = self.counts
        error_lines = len(ERROR_LINE.findall(text))
        failed = len(TESTS_FAILED.findall(text))
        counts["output_error_lines"] += error_lines
        counts["last_output_error_lines"] = float(error_lines)
        counts["tests_passed_mentions"] += len(TESTS_PASSED.findall(text))
        counts["tests_failed_mentions"] += failed
        counts["last_tests_failed"] = float(failed)
        if error_lines:
            self.proof.add("output_error_lines", event.id)
            self.proof.add("last_output_error_lines", event.id)
        if failed:
            self.proof.add("tests_failed_mentions", event.id)

    def values(self) -> dict[str, float]:
        return dict(self.counts)

    def evidence(self) -> Mapping[str, Sequence[str]]:
        return self.proof.as_mapping()


class TextGroup:
    """Cue words in the agent's and the other party's text and in tool output."""

    name = "text"
    descriptions: Mapping[str, str] = TEXT_FEATURES

    def start(self) -> _TextCues:
        """A fresh accumulator."""
        return _TextCues()


register_feature_group(TextGroup.name, TextGroup)
