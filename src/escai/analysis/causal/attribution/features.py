"""Per-turn features for failure attribution: position, the agent's role in the run, text cues and value flow.

Every feature is read from the events alone and is framework-neutral: nothing names an agent, a tool or a task.
Roles are read from what agents write ("verify", "plan", code), never from their names. The *value flow* features
follow distinctive values (numbers, quoted or emphasised strings) from the turn that first stated them to the
final answer; a value the task itself gave is not counted, since nobody in the run introduced it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from escai.analysis.causal.attribution.view import SessionView, Turn
from escai.analysis.causal.dependency import extract_values
from escai.model.events import EventStatus

_WORD = re.compile(r"[a-z][a-z0-9']+")

_CUES: dict[str, re.Pattern[str]] = {
    "assume": re.compile(r"\b(?:assum(?:e|es|ed|ing|ption)|suppos(?:e|ing)|let'?s say|for the sake of)\b", re.I),
    "invented": re.compile(
        r"\b(?:hypothetical|placeholder|simulat(?:e|ed|ing)|mock|dummy|sample data|example data|fictional|"
        r"made[- ]up|for (?:example|illustration|demonstration) purposes|replace with|e\.g\.,? ['\"]?your)\b",
        re.I,
    ),
    "verify": re.compile(
        r"\b(?:verif(?:y|ied|ication|ying)|validat(?:e|ed|ion|ing)|double[- ]check|confirm(?:ed)?)\b", re.I
    ),
    "agree": re.compile(r"\b(?:agree[ds]?|i concur|looks (?:good|correct)|is correct|are correct|approved?)\b", re.I),
    "answer": re.compile(
        r"\b(?:the (?:final )?answer is|final answer|the result is|therefore,? the|thus,? the|in conclusion|"
        r"the correct answer|we (?:have )?(?:found|determined|identified|concluded))\b",
        re.I,
    ),
    "plan": re.compile(r"(?:\bplan\b|\bstep[- ]?(?:1|one)\b|^\s*1\.\s)", re.I | re.M),
    "unable": re.compile(
        r"\b(?:unable to|cannot|can'?t|could not|couldn'?t|not able to|no access|not accessible|not available|"
        r"don'?t have access|do not have access)\b",
        re.I,
    ),
    "manual": re.compile(r"\b(?:manually|from memory|based on (?:my|general) knowledge|known (?:data|facts))\b", re.I),
    "search": re.compile(
        r"\b(?:search|look(?:ing)? up|browse|retriev(?:e|ed|ing)|download|fetch|scrap(?:e|ing))\b", re.I
    ),
    "correction": re.compile(
        r"\b(?:apolog|my mistake|was wrong|incorrect|correct(?:ed|ing) (?:the|that|this)|let me fix|re-?run|"
        r"fix(?:ed)? (?:the|this) (?:code|error|issue))",
        re.I,
    ),
    "terminate": re.compile(r"\bTERMINATE\b"),
    "question": re.compile(r"\?"),
}

FEATURE_NAMES: tuple[str, ...] = (
    "relative_position",
    "candidate_ordinal",
    "is_first_candidate",
    "is_second_candidate",
    "is_last_candidate",
    "agent_first_turn",
    "agent_turn_ordinal",
    "agent_share",
    "agent_is_most_frequent",
    "agent_is_first_speaker",
    "agent_count",
    "log_length",
    "has_code",
    "code_failed",
    "code_succeeded",
    "new_values",
    "final_values_introduced",
    "first_final_introducer",
    "task_overlap",
    "after_failed_execution",
    "after_idle_execution",
    "downstream_reuse",
    "first_answer_claim",
    "agent_verifier_share",
    "agent_code_share",
    *(f"cue_{name}" for name in _CUES),
)
"""Names of the columns :func:`extract_features` returns, in order."""


def _words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if len(word) > 3}


@dataclass(frozen=True, slots=True)
class ValueFlow:
    """Where each distinctive value of a session was first stated, and which values the final answer holds."""

    introduced: dict[int, set[str]]
    """Step index -> values first stated at that step (values the task gave are excluded)."""
    final_values: set[str]
    reused_later: dict[int, int]
    """Step index -> how many later turns restate a value it introduced."""


def _final_turn(view: SessionView) -> Turn | None:
    # The final answer is the last turn that says something of substance (a bare "TERMINATE" says nothing).
    for turn in reversed(view.candidates):
        if extract_values(turn.text):
            return turn
    return view.candidates[-1] if view.candidates else None


def trace_value_flow(view: SessionView) -> ValueFlow:
    """Follow distinctive values from the turn that introduced them to later turns and the final answer."""
    seen = extract_values(view.task)
    introduced: dict[int, set[str]] = {}
    origin: dict[str, int] = {}
    reused: Counter[int] = Counter()
    for turn in view.turns:
        values = extract_values(turn.text + "\n" + turn.code)
        fresh = values - seen
        introduced[turn.step_index] = fresh
        for value in fresh:
            origin[value] = turn.step_index
        for source in {origin[value] for value in values & set(origin) if origin[value] != turn.step_index}:
            reused[source] += 1
        seen |= values
    final = _final_turn(view)
    final_values = extract_values(final.text) if final is not None else set()
    return ValueFlow(introduced=introduced, final_values=final_values, reused_later=dict(reused))


def _origin_of_final(view: SessionView, flow: ValueFlow) -> dict[int, int]:
    """Step -> final-answer values first stated there; an execution result's values go to the turn that ran it."""
    owners: dict[int, int] = {}
    previous_candidate: int | None = None
    for turn in view.turns:
        count = len(flow.introduced.get(turn.step_index, set()) & flow.final_values)
        owner = previous_candidate if turn.is_execution and previous_candidate is not None else turn.step_index
        if count:
            owners[owner] = owners.get(owner, 0) + count
        if not turn.is_execution:
            previous_candidate = turn.step_index
    return owners


def extract_features(view: SessionView) -> npt.NDArray[np.float64]:
    """One row of :data:`FEATURE_NAMES` per candidate turn of the session, in step order."""
    candidates = view.candidates
    if not candidates:
        return np.zeros((0, len(FEATURE_NAMES)))
    last_step = max(turn.step_index for turn in view.turns) or 1
    counts = Counter(turn.agent_id for turn in candidates)
    most_frequent = max(counts.values())
    first_speaker = candidates[0].agent_id
    verifier_turns = Counter(turn.agent_id for turn in candidates if _CUES["verify"].search(turn.text))
    code_turns = Counter(turn.agent_id for turn in candidates if turn.code)
    flow = trace_value_flow(view)
    owners = _origin_of_final(view, flow)
    first_owner = min(owners) if owners else None
    task_words = _words(view.task)
    by_step = {turn.step_index: turn for turn in view.turns}
    first_claim = next((turn.step_index for turn in candidates if _CUES["answer"].search(turn.text)), None)
    agent_seen: Counter[str] = Counter()
    rows = []
    for ordinal, turn in enumerate(candidates):
        previous = by_step.get(turn.step_index - 1)
        words = _words(turn.text)
        row = [
            turn.step_index / last_step,
            float(min(ordinal, 6)),
            float(ordinal == 0),
            float(ordinal == 1),
            float(ordinal == len(candidates) - 1),
            float(agent_seen[turn.agent_id] == 0),
            float(min(agent_seen[turn.agent_id], 4)),
            counts[turn.agent_id] / len(candidates),
            float(counts[turn.agent_id] == most_frequent),
            float(turn.agent_id == first_speaker),
            float(len(counts)),
            math.log1p(len(turn.text)),
            float(bool(turn.code)),
            float(turn.result_status is EventStatus.ERROR),
            float(turn.result_status is EventStatus.OK),
            math.log1p(len(flow.introduced.get(turn.step_index, ()))),
            float(owners.get(turn.step_index, 0)),
            float(turn.step_index == first_owner),
            len(words & task_words) / (len(task_words) or 1),
            float(previous is not None and previous.is_execution and previous.result_status is EventStatus.ERROR),
            float(previous is not None and previous.is_execution and previous.result_status is EventStatus.UNSET),
            math.log1p(flow.reused_later.get(turn.step_index, 0)),
            float(turn.step_index == first_claim),
            verifier_turns[turn.agent_id] / counts[turn.agent_id],
            code_turns[turn.agent_id] / counts[turn.agent_id],
            *(float(len(pattern.findall(turn.text))) for pattern in _CUES.values()),
        ]
        agent_seen[turn.agent_id] += 1
        rows.append(row)
    return np.asarray(rows, dtype=np.float64)
