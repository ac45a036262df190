"""Splitting a raw multi-agent console log into turns, with simple heuristics (used for MAST/MAD traces).

A log is split at *header lines*. Several header rules are tried on the whole log and the one that matches most
lines wins (at least two matches), so each framework's own format is found by its structure:

============  =====================================================================  ===========================
rule          header line                                                            seen in
============  =====================================================================  ===========================
banner        ``---------- WebSurfer ----------``                                    Magentic-One console
appworld      ``Response from X Agent``, ``Message to X Agent``, ``Code Execution     AppWorld
              Output``, ``Entering/Exiting X Agent message loop``, ``*** Task ***``
bracketed     ``[2025-01-17 11:36:43 INFO] Speaker: ...`` or ``[2025-03-27 01:21:03]``  ChatDev, MetaGPT log
loguru        ``2025-03-31 20:33:26.397 | INFO | module:function:line - text``       OpenManus, MetaGPT
logger        ``name - INFO - text``                                                 HyperAgent
============  =====================================================================  ===========================

A turn is its header line's text plus the lines up to the next header. The speaker is read from the header
text: ``X's Response:`` (``Inner-X-Assistant`` is agent X), ``X->Y:`` (a hand-off from X to Y), ``FROM: X
TO: Y``, ``Name(Role):`` (the role), ``X's thoughts`` (a thought), or a leading ``Speaker Name:`` (one to
four capitalised words); else from a
``Speaker:`` first line of the body (MetaGPT ``NEW MESSAGES``); else the last speaker seen; else the logging
module. Lines before the first header are one ``environment`` turn. Timestamps are read from the header
(ChatDev writes year-day-month, which is accepted when year-month-day is impossible). A log where no rule
matches twice is cut into chunks of whole paragraphs of at most :data:`CHUNK_CHARS` characters (a longer paragraph
is a chunk of its own), spoken by ``unknown``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from escai.model.events import EventType

CHUNK_CHARS = 2000
ENVIRONMENT = "environment"
UNKNOWN = "unknown"
_ERROR_LEVELS = frozenset({"ERROR", "CRITICAL", "FATAL"})


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of a log: who spoke, what, when (when the log says), and what kind of turn it was."""

    agent: str
    text: str
    kind: EventType = EventType.MESSAGE
    timestamp: datetime | None = None
    target: str | None = None
    level: str | None = None
    tool: str | None = None

    @property
    def failed(self) -> bool:
        """Whether the log line was written at an error level."""
        return self.level is not None and self.level.upper() in _ERROR_LEVELS


@dataclass(frozen=True, slots=True)
class _Header:
    agent: str | None
    text: str
    kind: EventType = EventType.MESSAGE
    timestamp: datetime | None = None
    target: str | None = None
    level: str | None = None
    module: str | None = None
    tool: str | None = None


_SPEAKER_NAME = r"(?P<a>[A-Z][\w-]*(?: [A-Z][\w-]*){0,3})"
"""One to four capitalised words: a speaker such as ``Programmer`` or ``Chief Executive Officer``."""
_SPEAKER_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], tuple[str, EventType, str | None]]], ...] = (
    (re.compile(r"^(?P<a>[\w -]+?)'s Response:"), lambda m: (_strip_inner(m["a"]), EventType.MESSAGE, None)),
    (re.compile(r"^(?P<a>[\w-]+)\s*->\s*(?P<b>[\w-]+):"), lambda m: (m["a"], EventType.HANDOFF, m["b"])),
    (re.compile(r"^FROM: (?P<a>\S+) TO: (?P<b>.*)$"), lambda m: (m["a"], EventType.MESSAGE, m["b"].strip())),
    (re.compile(r"^\w+\((?P<a>\w+)\):"), lambda m: (m["a"], EventType.MESSAGE, None)),
    (re.compile(r"\b(?P<a>[A-Z]\w+)'s thoughts"), lambda m: (m["a"], EventType.THOUGHT, None)),
    (re.compile(rf"^{_SPEAKER_NAME}:(?:\s|$)"), lambda m: (m["a"], EventType.MESSAGE, None)),
)
_TOOL_CALL = re.compile(r"Activating tool: '(?P<tool>[^']+)'")
_TOOL_RESULT = re.compile(r"Tool '(?P<tool>[^']+)' completed")
_NO_SPEAKER = ("NEW MESSAGES:",)
"""Headers whose speaker is on the first line of the body (MetaGPT)."""
_BODY_SPEAKER = re.compile(rf"^{_SPEAKER_NAME}:(?:\s|$)")


def _strip_inner(name: str) -> str:
    # HyperAgent names an agent's own model "Inner-Navigator-Assistant": the agent is the Navigator.
    return name.strip().removeprefix("Inner-").removesuffix("-Assistant")


def _timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    text = text.replace(",", ".").replace("T", " ")
    for layout in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%d-%m %H:%M:%S.%f", "%Y-%d-%m %H:%M:%S"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _speaker(text: str) -> tuple[str | None, EventType, str | None, str | None]:
    """(agent, kind, target, tool) read from a header's text."""
    call = _TOOL_CALL.search(text)
    if call:
        return None, EventType.TOOL_CALL, None, call["tool"]
    result = _TOOL_RESULT.search(text)
    if result:
        return None, EventType.TOOL_RESULT, None, result["tool"]
    if text.startswith(_NO_SPEAKER):
        return None, EventType.MESSAGE, None, None
    for pattern, read in _SPEAKER_RULES:
        match = pattern.search(text)
        if match:
            agent, kind, target = read(match)
            return agent, kind, target, None
    return None, EventType.MESSAGE, None, None


def _from_text(match: re.Match[str]) -> _Header:
    text = match["rest"]
    agent, kind, target, tool = _speaker(text)
    module = match.groupdict().get("module")
    return _Header(agent, text, kind, _timestamp(match.groupdict().get("ts")), target, match["level"], module, tool)


def _appworld(match: re.Match[str]) -> _Header:
    if match["response"]:
        return _Header(match["response"], "")
    if match["api"]:
        return _Header(ENVIRONMENT, "", EventType.OBSERVATION, tool=match["api"])
    if match["to"]:
        return _Header(ENVIRONMENT, "", target=match["to"])
    if match["enter"]:
        return _Header(match["enter"], "", EventType.AGENT_START)
    if match["exit"]:
        return _Header(match["exit"], "", EventType.AGENT_END)
    if match["output"]:
        return _Header(ENVIRONMENT, "", EventType.OBSERVATION)
    return _Header("user", match[0].strip())


_RULES: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], _Header]], ...] = (
    ("banner", re.compile(r"^-{5,} (?P<agent>\S.*?) -{5,}\s*$"), lambda m: _Header(m["agent"], "")),
    (
        "appworld",
        re.compile(
            r"^\s*(?:Response from (?P<response>.+?) Agent|Response from (?P<api>.+?) API|Message to (?P<to>.+?) Agent"
            r"|(?P<output>Code Execution Output)|Entering (?P<enter>.+?) Agent message loop"
            r"|Exiting (?P<exit>.+?) Agent message loop|\*{5,} Task .*\*{5,})\s*$"
        ),
        _appworld,
    ),
    (
        "bracketed",
        re.compile(
            r"^\[(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?)(?: (?P<level>[A-Z]+))?\]"
            r"\s*(?P<rest>.*)$"
        ),
        _from_text,
    ),
    (
        "loguru",
        re.compile(
            r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) \| (?P<level>[A-Z]+)\s*\| "
            r"(?P<module>[\w.<>]+):[\w<>]+:\d+ - (?P<rest>.*)$"
        ),
        _from_text,
    ),
    (
        "logger",
        re.compile(r"^(?P<logger>[\w.-]+) - (?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) - (?P<rest>.*)$"),
        _from_text,
    ),
)


def _chunks(log: str) -> list[Turn]:
    turns: list[Turn] = []
    current: list[str] = []
    size = 0
    for paragraph in re.split(r"\n\s*\n", log):
        if not paragraph.strip():
            continue
        if current and size + len(paragraph) > CHUNK_CHARS:
            turns.append(Turn(UNKNOWN, "\n\n".join(current)))
            current, size = [], 0
        current.append(paragraph)
        size += len(paragraph)
    if current:
        turns.append(Turn(UNKNOWN, "\n\n".join(current)))
    return turns


def split_log(log: str) -> tuple[list[Turn], str]:
    """The turns of a raw log and the name of the heuristic that found them (``paragraphs`` as the fallback)."""
    lines = log.splitlines()
    best: tuple[str, list[tuple[int, _Header]]] | None = None
    for name, pattern, read in _RULES:
        headers = [(index, read(match)) for index, line in enumerate(lines) if (match := pattern.search(line))]
        if len(headers) >= 2 and (best is None or len(headers) > len(best[1])):
            best = (name, headers)
    if best is None:
        return _chunks(log), "paragraphs"
    name, headers = best
    turns: list[Turn] = []
    preamble = "\n".join(lines[: headers[0][0]]).strip()
    if preamble:
        turns.append(Turn(ENVIRONMENT, preamble))
    last_agent: str | None = None
    for position, (index, header) in enumerate(headers):
        end = headers[position + 1][0] if position + 1 < len(headers) else len(lines)
        body = "\n".join(lines[index + 1 : end]).strip("\n")
        text = f"{header.text}\n{body}".strip("\n") if header.text else body
        agent = header.agent
        if agent is None:
            first = next((line.strip() for line in body.splitlines() if line.strip()), "")
            spoken = _BODY_SPEAKER.match(first)
            agent = spoken["a"].strip() if spoken else last_agent or _module_agent(header.module)
        elif header.kind is not EventType.AGENT_END and agent != ENVIRONMENT:
            last_agent = agent
        turns.append(Turn(agent, text, header.kind, header.timestamp, header.target, header.level, header.tool))
    return turns, name


def _module_agent(module: str | None) -> str:
    if not module:
        return "system"
    return module.rsplit(".", 1)[-1] or "system"
