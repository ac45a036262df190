"""What one event says in the agent's own words: candidate beliefs with confidences, notes, cues.

This is a pure function of the event, so batch extraction can read every event first and embed all candidate
beliefs of a session in one call (MiniLM is far faster on one batch of 500 sentences than on 500 batches of one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from escai.analysis.epistemic.cues import (
    CueCounts,
    count_cues,
    is_assertion,
    is_negated,
    split_sentences,
    strip_code,
)
from escai.analysis.epistemic.sections import NotesReading, SectionKind, read_notes
from escai.model.events import AgentEvent, EventType
from escai.model.records import BeliefSource
from escai.model.semconv import ESCAI_TASK, MESSAGE_ROLE

MAX_BELIEFS_PER_EVENT = 4
MAX_TEXT_CHARS = 12_000

# Agents that stand for the person the agent serves, not for an agent: their words are the task, not beliefs.
_HUMAN_AGENT_IDS = frozenset({"user", "human", "customer", "client"})
_AGENT_TEXT_TYPES = frozenset(
    {EventType.THOUGHT, EventType.PLAN, EventType.DECISION, EventType.LLM_RESPONSE, EventType.MESSAGE}
)
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)*(?!\w|\.\d)")
_BELIEF_CUE_RE = re.compile(
    r"\b(?:the (?:issue|problem|bug|error|cause|answer|result|value|reason)|because|therefore|so the|this means|"
    r"i found|we found|found that|it turns out|confirmed|verified|indicates?|shows?|should (?:fix|work|resolve)|"
    r"is correct|is incorrect|is wrong|does not|doesn't|is not|isn't|located in|defined in)\b",
    re.IGNORECASE,
)

# Confidence a section's items start with: verified facts are held firmly, guesses loosely.
_SECTION_CONFIDENCE = {
    SectionKind.VERIFIED: (0.9, BeliefSource.FACT_SHEET),
    SectionKind.GUESSES: (0.4, BeliefSource.FACT_SHEET),
    SectionKind.VERDICT: (0.8, BeliefSource.VERDICT),
}


@dataclass(frozen=True, slots=True)
class CandidateBelief:
    """A statement read from an event, before it meets the agent's other beliefs."""

    text: str
    confidence: float
    source: BeliefSource
    negated: bool
    numbers: frozenset[str]


@dataclass(frozen=True, slots=True)
class Statements:
    """What one agent text says: beliefs, notes (plans, fact sheets, ledger) and cue counts."""

    beliefs: list[CandidateBelief]
    notes: NotesReading
    cues: CueCounts


def role_of(event: AgentEvent) -> str | None:
    """The chat role recorded on the event, lower-cased."""
    role = event.attributes.get(MESSAGE_ROLE)
    return role.lower() if isinstance(role, str) else None


def is_human(event: AgentEvent) -> bool:
    """Whether the event comes from the person the agents serve (or a simulated one), not from an agent."""
    return event.agent_id.lower() in _HUMAN_AGENT_IDS or (event.agent_name or "").lower() in _HUMAN_AGENT_IDS


def is_agent_text(event: AgentEvent) -> bool:
    """Whether the event is an agent speaking or thinking (its words can hold beliefs, plans and verdicts)."""
    if event.type not in _AGENT_TEXT_TYPES or not event.content:
        return False
    return role_of(event) not in ("system", "tool") and not is_human(event)


def task_text(event: AgentEvent) -> str | None:
    """The task a session_start event announces (the ``escai.task`` attribute, else its content)."""
    task = event.attributes.get(ESCAI_TASK)
    if isinstance(task, str) and task.strip():
        return task
    return event.content


def read_statements(event: AgentEvent) -> Statements:
    """Read one agent text: at most a few beliefs (notes first, then the most claim-like sentences)."""
    text = (event.content or "")[:MAX_TEXT_CHARS]
    notes = read_notes(text)
    prose = strip_code(text)
    cues = count_cues(prose)
    beliefs: list[CandidateBelief] = []
    for item in notes.items:
        if item.kind in _SECTION_CONFIDENCE and len(beliefs) < MAX_BELIEFS_PER_EVENT:
            base, source = _SECTION_CONFIDENCE[item.kind]
            beliefs.append(_candidate(item.text, base, source))
    if notes.answer and len(beliefs) < MAX_BELIEFS_PER_EVENT:
        beliefs.append(_candidate(f"The answer is {notes.answer}", 0.75, BeliefSource.VERDICT))
    if event.type is EventType.PLAN:
        return Statements(beliefs, notes, cues)
    ranked = sorted(
        (sentence for sentence in split_sentences(prose) if is_assertion(sentence)),
        key=lambda sentence: _BELIEF_CUE_RE.search(sentence) is None,
    )
    seen = {belief.text for belief in beliefs}
    for sentence in ranked:
        if len(beliefs) >= MAX_BELIEFS_PER_EVENT:
            break
        if sentence not in seen:
            beliefs.append(_candidate(sentence, count_cues(sentence).certainty, BeliefSource.ASSERTION))
            seen.add(sentence)
    return Statements(beliefs, notes, cues)


def _candidate(text: str, confidence: float, source: BeliefSource) -> CandidateBelief:
    cues = count_cues(text)
    # A section's base confidence is moved by the item's own hedges and boosters, by half as much as a sentence.
    adjusted = confidence + 0.5 * (cues.certainty - 0.6) if source is not BeliefSource.ASSERTION else confidence
    return CandidateBelief(
        text=text,
        confidence=min(0.97, max(0.03, adjusted)),
        source=source,
        negated=is_negated(text),
        numbers=frozenset(_NUMBER_RE.findall(text)),
    )
