"""Structured sections agents write about their own state: fact sheets, plans, progress ledgers and verdicts.

Multi-agent systems often make the model keep explicit notes: Magentic-One's orchestrator writes a fact sheet
("GIVEN OR VERIFIED FACTS", "FACTS TO LOOK UP", "FACTS TO DERIVE", "EDUCATED GUESSES"), a numbered plan and a JSON
progress ledger (``is_request_satisfied``, ``is_in_loop``, ``is_progress_being_made``); AG2/CaptainAgent groups write
"## Plan for solving the task" and "## Results from last response"; many agents close with "Verification" or
"Conclusion" paragraphs. Headers are recognised by the words in them, never by a framework's exact template, so a
differently worded fact sheet is read the same way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum

from escai.analysis.epistemic.cues import is_assertion, split_sentences

MAX_SCANNED_CHARS = 20_000
MAX_ITEMS_PER_SECTION = 10
MAX_ITEM_CHARS = 300


class SectionKind(Enum):
    """What a section of an agent's notes holds."""

    VERIFIED = "verified"
    OPEN_QUESTIONS = "open_questions"
    GUESSES = "guesses"
    PLAN = "plan"
    VERDICT = "verdict"
    OTHER = "other"


# Order matters: "facts to look up" must be read as open questions before the generic "facts" rule.
_HEADER_RULES: tuple[tuple[re.Pattern[str], SectionKind], ...] = (
    (
        re.compile(r"to look up|to derive|to find|to verify|open questions?|unknowns?|to do|todo", re.I),
        SectionKind.OPEN_QUESTIONS,
    ),
    (re.compile(r"guess|assumption|hypothes|speculat", re.I), SectionKind.GUESSES),
    (re.compile(r"\bplan\b|next steps|steps to|approach", re.I), SectionKind.PLAN),
    (re.compile(r"\bfacts?\b|\bknown\b|\bgiven\b|established", re.I), SectionKind.VERIFIED),
    (
        re.compile(r"verification|verified|conclusion|results? from|findings|final answer|summary", re.I),
        SectionKind.VERDICT,
    ),
)
# Verdict and fact lines must be statements; a page's menu ("Back to top", "Pitching") under a "Results" heading
# is not a belief.
MIN_STATEMENT_WORDS = 4
_HEADER_RE = re.compile(
    r"^\s*(?:#{1,6}\s*|\d+[.)]\s+|\*\*)?(?P<title>[A-Za-z][A-Za-z0-9 /&,'()-]{2,70}?)(?:\*\*)?\s*:?\s*(?:\*\*)?\s*$"
)
_INLINE_HEADER_RE = re.compile(r"^\s*\*\*(?P<title>[A-Za-z][A-Za-z ]{2,40})\*\*\s*:\s*(?P<rest>.+)$")
_ITEM_RE = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\(?[a-z][.)])\s+(?P<text>.+)$")
_STEP_ITEM_RE = re.compile(r"^\s*(?:[-*•]\s*)?\**\s*step\s*\d+\s*[:.)-]?\**\s*:?\s*(?P<text>.+)$", re.I)
_PLAN_INTRO_RE = re.compile(r"here is (?:the|a|my) plan|plan to follow|plan for solving|^plan\s*:", re.I | re.M)
_INLINE_PLAN_RE = re.compile(r"^\**plan\**\s*:\s*(?P<steps>\S.{8,})$", re.I)
_STEP_SPLIT_RE = re.compile(r"\s*(?:[,;]|\bthen\b|\band then\b)\s*", re.I)
_JSON_OBJECT_RE = re.compile(r"\{.*\}", re.DOTALL)
_ANSWER_RE = re.compile(r"(?:the )?(?:final )?answer(?: is|:)\s*(?P<answer>[^\n]{1,200})", re.I)


@dataclass(frozen=True, slots=True)
class SectionItem:
    """One line of an agent's notes and the section it was written under."""

    kind: SectionKind
    text: str


@dataclass(frozen=True, slots=True)
class LedgerReading:
    """The agent's own progress judgement from a JSON ledger; None where the ledger does not say."""

    request_satisfied: bool | None = None
    in_loop: bool | None = None
    progress_being_made: bool | None = None
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NotesReading:
    """Everything read from one text's structured sections."""

    items: list[SectionItem]
    ledger: LedgerReading | None
    answer: str | None

    def of_kind(self, kind: SectionKind) -> list[str]:
        """The texts of the items under sections of ``kind``."""
        return [item.text for item in self.items if item.kind is kind]


def classify_header(title: str) -> SectionKind | None:
    """The section kind a header names, or None when it names none we read."""
    for pattern, kind in _HEADER_RULES:
        if pattern.search(title):
            return kind
    return None


def read_notes(text: str) -> NotesReading:
    """Read fact sheets, plans, verdicts and a JSON progress ledger from one agent text."""
    text = text[:MAX_SCANNED_CHARS]
    return NotesReading(items=_read_sections(text), ledger=read_ledger(text), answer=_read_answer(text))


def _read_sections(text: str) -> list[SectionItem]:
    items: list[SectionItem] = []
    counts: dict[SectionKind, int] = {}
    current: SectionKind | None = SectionKind.PLAN if _PLAN_INTRO_RE.search(text[:200]) else None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        inline = _INLINE_HEADER_RE.match(stripped)
        if inline is not None and (kind := classify_header(inline.group("title"))) is not None:
            _append(items, counts, kind, inline.group("rest"))
            continue
        header = _HEADER_RE.match(stripped)
        if header is not None and len(stripped) <= 80:
            kind = classify_header(header.group("title"))
            if kind is not None or stripped.startswith("#"):
                current = kind
                continue
        inline_plan = _INLINE_PLAN_RE.match(stripped)
        if inline_plan is not None:
            # "Plan: read the file, change the bound, run the tests." states its steps on one line.
            for step in _STEP_SPLIT_RE.split(inline_plan.group("steps")):
                _append(items, counts, SectionKind.PLAN, step.strip(" ."))
            continue
        if _PLAN_INTRO_RE.search(stripped):
            current = SectionKind.PLAN
            continue
        if current is None:
            continue
        step = _STEP_ITEM_RE.match(stripped)
        item = step or _ITEM_RE.match(stripped)
        if item is not None:
            _append(items, counts, current, item.group("text"))
        elif current in (SectionKind.VERDICT, SectionKind.VERIFIED):
            for sentence in split_sentences(stripped)[:3]:
                _append(items, counts, current, sentence)
    return items


def _append(items: list[SectionItem], counts: dict[SectionKind, int], kind: SectionKind, text: str) -> None:
    cleaned = text.replace("**", "").strip(" -:*")
    if len(cleaned) < 8 or counts.get(kind, 0) >= MAX_ITEMS_PER_SECTION:
        return
    if kind is SectionKind.VERDICT and not is_assertion(cleaned):
        return
    if kind is SectionKind.VERIFIED and len(cleaned.split()) < MIN_STATEMENT_WORDS:
        return
    counts[kind] = counts.get(kind, 0) + 1
    items.append(SectionItem(kind, cleaned[:MAX_ITEM_CHARS]))


def read_ledger(text: str) -> LedgerReading | None:
    """A progress ledger written as JSON (``{"is_request_satisfied": {"answer": false, "reason": ...}, ...}``)."""
    if "satisfied" not in text and "progress" not in text and "loop" not in text:
        return None
    match = _JSON_OBJECT_RE.search(text)
    if match is None:
        return None
    try:
        document = json.loads(match.group(0))
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    values: dict[str, bool | None] = {"satisfied": None, "loop": None, "progress": None}
    reasons: dict[str, str] = {}
    for key, value in document.items():
        for marker in values:
            if marker in key.lower():
                answer, reason = _ledger_answer(value)
                values[marker] = answer
                if reason:
                    reasons[marker] = reason[:MAX_ITEM_CHARS]
    if all(value is None for value in values.values()):
        return None
    return LedgerReading(values["satisfied"], values["loop"], values["progress"], reasons)


def _ledger_answer(value: object) -> tuple[bool | None, str | None]:
    if isinstance(value, dict):
        answer, reason = value.get("answer"), value.get("reason")
        return (answer if isinstance(answer, bool) else None), (reason if isinstance(reason, str) else None)
    if isinstance(value, bool):
        return value, None
    return None, None


def _read_answer(text: str) -> str | None:
    match = _ANSWER_RE.search(text)
    if match is None:
        return None
    answer = match.group("answer").strip(" *.")
    return answer or None
