"""Short, safe renderings of event content for explanation sentences: quotes, error lines, actions and patches.

Sentences quote the data (a command, an error message, a belief) so that a reader can recognise the event without
opening it; every helper here bounds the length and flattens whitespace so that one quote never swamps a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import orjson

from escai.ingest.importers.base import TOOL_ARGUMENTS
from escai.model import semconv
from escai.model.events import AgentEvent

QUOTE_LIMIT = 90
"""Longest quote, in characters, before it is cut with an ellipsis."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TAG_LINE = re.compile(r"^\s*</?[a-z_]+>\s*$")
_LEADING_TAGS = re.compile(r"^\s*(?:<returncode>-?\d+</returncode>|</?[a-z_]+>)+\s*")
_EXECUTOR_PREFIX = re.compile(r"^\s*(?:exitcode: -?\d+ \([^)]*\)|Code output:)\s*")
_BORDER = re.compile(r"^[\s=\-_*#]+|[\s=\-_*#]+$")
_ERROR_LINE = re.compile(
    r"\w+(?:Error|Exception)\b|\berror\b|\bfailed\b|\bfailure\b|\bnot found\b|no such file|denied|invalid|cannot",
    re.IGNORECASE,
)
_DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def flatten(text: str) -> str:
    """``text`` on one line: ANSI colours removed, runs of whitespace collapsed to one space."""
    return " ".join(_ANSI.sub("", text).split())


def clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` flattened and cut to ``limit`` characters at a word boundary, with an ellipsis when cut."""
    flat = flatten(text)
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def quote(text: str | None, limit: int = QUOTE_LIMIT) -> str:
    """``text`` as a double-quoted, clipped quote (inner double quotes become single ones); empty text is ``""``."""
    return '"' + clip((text or "").replace('"', "'"), limit) + '"'


def first_sentence(text: str | None, limit: int = QUOTE_LIMIT) -> str:
    """The first sentence (or first line) of ``text``, clipped: enough to recognise a task or a statement."""
    for line in (text or "").splitlines():
        stripped = _BORDER.sub("", line).strip()
        if stripped and not _TAG_LINE.match(line):
            return clip(_SENTENCE_END.split(stripped, maxsplit=1)[0], limit)
    return ""


def error_line(text: str | None, limit: int = QUOTE_LIMIT) -> str:
    """The most telling line of a failed result: the last line that names an error, else the last line of output.

    Tracebacks end with the exception that was raised and test runners end with their summary, so the last
    matching line is the one a person would read first.
    """
    lines = []
    for raw in _ANSI.sub("", text or "").splitlines():
        line = _EXECUTOR_PREFIX.sub("", _LEADING_TAGS.sub("", raw))
        line = _BORDER.sub("", line).strip()
        if line and not _TAG_LINE.match(raw):
            lines.append(line)
    if not lines:
        return ""
    matching = [line for line in lines if _ERROR_LINE.search(line)]
    return clip((matching or lines)[-1], limit)


def tool_name(event: AgentEvent) -> str | None:
    """The tool an event calls or answers: its name attribute (GenAI or OpenInference), else the event's name."""
    for key in (semconv.GEN_AI_TOOL_NAME, semconv.TOOL_NAME):
        value = event.attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return event.name


def action_text(event: AgentEvent) -> str:
    """What an action did, as text: a tool call's command or arguments, else the event's content."""
    arguments = event.attributes.get(TOOL_ARGUMENTS)
    if isinstance(arguments, dict) and len(arguments) == 1:
        # One-argument tools (a shell's command, an executor's code) read best as the argument itself.
        (only,) = arguments.values()
        if isinstance(only, str):
            return only
    if event.content:
        return event.content
    if arguments is not None:
        return orjson.dumps(arguments, default=str).decode()
    return ""


def describe_action(event: AgentEvent, limit: int = 60) -> str:
    """A tool call as ``tool `command```, another action as its kind and a short quote."""
    text = clip(action_text(event).replace("`", "'"), limit)
    name = tool_name(event)
    if name:
        return f"{name} `{text}`" if text else name
    return f"{event.type.value.replace('_', ' ')} {quote(text, limit)}"


def patch_files(text: str | None) -> list[str]:
    """The files a unified git diff touches, in order, once each (empty when ``text`` is not a diff)."""
    return list(dict.fromkeys(_DIFF_FILE.findall(text or "")))


def join_words(items: Sequence[str], conjunction: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def steps_text(events: Iterable[AgentEvent], limit: int = 6) -> str:
    """The distinct steps of ``events`` as ``step 4`` or ``steps 4, 9 and 12`` (the first ``limit`` of them)."""
    steps = list(dict.fromkeys(event.step_index for event in events if event.step_index is not None))
    if not steps:
        return ""
    shown = [str(step) for step in steps[:limit]]
    if len(steps) > limit:
        shown.append(f"{len(steps) - limit} more")
    return ("step " if len(steps) == 1 else "steps ") + join_words(shown)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 call``, ``3 calls``: a count with its noun."""
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"


def percent(value: float) -> str:
    """A probability as a whole percentage."""
    return f"{round(value * 100)}%"
