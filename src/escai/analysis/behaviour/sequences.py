"""Sessions abstracted into sequences of steps: one step per action, named generically so patterns transfer.

A step's ``action`` is a short token built from the event kind only, never from agent names or task ids:

- a tool call and its result become one step named after the normalised tool (for a shell tool, the command's
  program: ``grep``, ``sed``, ``python``, ``pytest``; a heredoc written into a file is ``write_file``) with the
  outcome appended: ``pytest:ok``, ``pytest:error``, or the bare name when the outcome is unknown;
- a thought or LLM response that leads straight into a tool call is folded into that call's step (it is the same
  agent turn); otherwise it is a ``think`` or ``llm`` step;
- a message is ``msg:<role>`` (agent turns and the other party's turns), an error ``error:<type>``, and the other
  kinds (plan, decision, observation, handoff, memory, custom) their event type.

Session start and end events are left out on purpose: an end event carries the outcome (its status is ``error``
for a failed run), and a pattern that contains it would "predict" failure by reading the label.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType

SHELL_TOOL_NAMES = frozenset(
    {
        "bash",
        "sh",
        "zsh",
        "shell",
        "terminal",
        "cmd",
        "powershell",
        "run_shell_command",
        "execute_bash",
        "execute_command",
        "run_command",
        "run_terminal_cmd",
        "local_shell",
        "computer_terminal",
    }
)
"""Tool names whose calls are shell commands (the program name is the action)."""

_COMMAND_KEYS = ("command", "cmd", "script", "code")
_SKIPPED_TYPES = frozenset(
    {EventType.SESSION_START, EventType.SESSION_END, EventType.AGENT_START, EventType.AGENT_END, EventType.LLM_REQUEST}
)
_FOLDED_TYPES = frozenset({EventType.THOUGHT, EventType.LLM_RESPONSE})
# Commands that only set up the shell: the action is the program that follows them.
_SETUP_PROGRAMS = frozenset({"cd", "export", "source", ".", "set", "unset", "pushd", "popd", "alias", ":", "true"})
_WRAPPER_PROGRAMS = frozenset({"sudo", "env", "nohup", "time", "timeout", "command", "exec", "stdbuf"})
_SEGMENT_SPLIT = re.compile(r"\n|&&|\|\||;|\|")
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_HEREDOC_TO_FILE = re.compile(r"<<-?\s*['\"]?\w+['\"]?.*>\s*\S|>\s*\S+.*<<")
_TOKEN_CLEAN = re.compile(r"[^a-z0-9_.+:-]+")


@dataclass(frozen=True, slots=True)
class Step:
    """One action of a session: the events it covers and the numbers the step features are made of."""

    action: str
    """The abstract token, for example ``pytest:error`` or ``msg:user``."""
    kind: str
    """The event type of the step's main event."""
    position: int
    """Index of the step in its session's sequence."""
    event_ids: tuple[str, ...]
    agent_id: str
    signature: str
    """A digest of the exact action (tool and arguments, or kind and text): equal signatures are literal repeats."""
    timestamp: datetime
    status: str = "unset"
    """``ok``, ``error`` or ``unset``."""
    step_index: int | None = None
    duration_ms: float | None = None
    tokens: int = 0
    input_length: int = 0
    """Characters of the action's own text (arguments or message)."""
    output_length: int = 0
    """Characters of the tool result or observation it produced."""
    detail: str = ""
    """A short human-readable form of the action (the command line, the message start)."""


@dataclass(frozen=True, slots=True)
class SessionSequence:
    """A session as its sequence of steps, with its outcome when known."""

    session_id: str
    agent_id: str
    steps: tuple[Step, ...]
    success: bool | None = None
    event_count: int = 0

    @property
    def actions(self) -> tuple[str, ...]:
        """The step tokens in order."""
        return tuple(step.action for step in self.steps)


@dataclass(slots=True)
class _OpenStep:
    action: str
    kind: str
    events: list[AgentEvent]
    signature_text: str
    detail: str
    call_id: str | None = None
    tool: str | None = None
    status: str = "unset"
    output_length: int = 0
    extra_events: list[AgentEvent] = field(default_factory=list)


def clean_token(value: str) -> str:
    """A name lower-cased and reduced to ``[a-z0-9_.+:-]`` so tokens from different sources compare equal."""
    cleaned = _TOKEN_CLEAN.sub("_", value.strip().lower()).strip("_")
    return cleaned[:48] or "unknown"


def command_program(command: str) -> str:
    """The program a shell command runs, ignoring shell setup (``cd``, ``export``, ``VAR=value``) and wrappers.

    ``python -m pytest`` is ``pytest``, a ``*.py`` script is ``python``, and a heredoc redirected into a file
    (``cat <<'EOF' > fix.py``) is ``write_file``: writing a file is a different act from reading one.
    """
    first_line = command.strip().split("\n", 1)[0]
    if "<<" in first_line and _HEREDOC_TO_FILE.search(first_line):
        return "write_file"
    for segment in _SEGMENT_SPLIT.split(command):
        words = [word.strip("'\"()") for word in segment.split()]
        while words and (_ENV_ASSIGNMENT.match(words[0]) or words[0] in _WRAPPER_PROGRAMS):
            wrapper = words.pop(0)
            if wrapper == "timeout" and words and words[0][:1].isdigit():
                words.pop(0)
        if not words or words[0] in _SETUP_PROGRAMS or words[0].startswith("#"):
            continue
        return _program_of(words)
    return "sh"


def _program_of(words: list[str]) -> str:
    program = words[0].rsplit("/", 1)[-1]
    if re.fullmatch(r"python[0-9.]*", program):
        if len(words) > 2 and words[1] == "-m":
            return clean_token(words[2].split(".", 1)[0])
        return "python"
    if program in {"py.test", "pytest"}:
        return "pytest"
    if program.endswith(".py"):
        return "python"
    if program.endswith(".sh"):
        return "sh"
    return clean_token(program)


def _tool_arguments(event: AgentEvent) -> Mapping[str, Any]:
    arguments = event.attributes.get("gen_ai.tool.call.arguments")
    return arguments if isinstance(arguments, Mapping) else {}


def _shell_command(event: AgentEvent, tool: str) -> str | None:
    arguments = _tool_arguments(event)
    for key in _COMMAND_KEYS:
        value = arguments.get(key)
        if isinstance(value, str) and (tool in SHELL_TOOL_NAMES or key in ("command", "cmd")):
            return value
    if tool in SHELL_TOOL_NAMES and event.content:
        return event.content
    return None


def tool_action(event: AgentEvent) -> str:
    """The normalised action name of a tool call: the program for shell tools, else the cleaned tool name."""
    tool = clean_token(event.name or str(event.attributes.get(semconv.GEN_AI_TOOL_NAME, "tool")))
    command = _shell_command(event, tool)
    return command_program(command) if command is not None else tool


def result_outcome(event: AgentEvent) -> str:
    """``ok`` or ``error`` for a tool result (status, else the process exit code), ``unset`` when unknown."""
    if event.status is EventStatus.ERROR:
        return "error"
    exit_code = event.attributes.get("process.exit.code")
    if exit_code is not None:
        try:
            return "ok" if int(str(exit_code).strip()) == 0 else "error"
        except ValueError:
            pass
    return "ok" if event.status is EventStatus.OK else "unset"


def _call_id(event: AgentEvent) -> str | None:
    value = event.attributes.get(semconv.GEN_AI_TOOL_CALL_ID)
    return str(value) if value is not None else None


def _message_action(event: AgentEvent) -> str:
    role = event.attributes.get("message.role")
    return f"msg:{clean_token(str(role))}" if role else "msg"


def _error_action(event: AgentEvent) -> str:
    kind = event.attributes.get(semconv.ESCAI_ERROR_TYPE) or event.name
    return f"error:{clean_token(str(kind))}" if kind else "error"


def _plain_action(event: AgentEvent) -> str:
    if event.type is EventType.MESSAGE:
        return _message_action(event)
    if event.type is EventType.ERROR:
        return _error_action(event)
    if event.type is EventType.THOUGHT:
        return "think"
    if event.type is EventType.LLM_RESPONSE:
        return "llm"
    return event.type.value


def _short(text: str | None, limit: int = 120) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _Abstractor:
    """Walks one session's events in order and closes a step whenever an action is complete."""

    def __init__(self) -> None:
        self.steps: list[_OpenStep] = []
        self.pending_calls: list[_OpenStep] = []
        self.held: list[AgentEvent] = []
        """Thoughts or LLM responses waiting to see whether a tool call of the same turn follows."""

    def feed(self, event: AgentEvent) -> None:
        if event.type in _SKIPPED_TYPES:
            return
        if event.type in _FOLDED_TYPES:
            self.held.append(event)
            return
        if event.type is EventType.TOOL_CALL:
            self._open_call(event)
            return
        self._release_held()
        if event.type is EventType.TOOL_RESULT:
            self._close_call(event)
            return
        self.steps.append(_OpenStep(_plain_action(event), event.type.value, [event], event.content or "", ""))
        self.steps[-1].detail = _short(event.content)

    def _open_call(self, event: AgentEvent) -> None:
        turn = [held for held in self.held if held.agent_id == event.agent_id]
        self._release_held(keep=turn)
        arguments = _tool_arguments(event)
        text = repr(sorted(arguments.items())) if arguments else event.content or ""
        detail = _shell_command(event, clean_token(event.name or "")) or event.content or ""
        step = _OpenStep(tool_action(event), event.type.value, [event], f"{event.name}|{text}", _short(detail))
        step.extra_events = turn
        step.call_id = _call_id(event)
        step.tool = event.name
        self.steps.append(step)
        self.pending_calls.append(step)

    def _close_call(self, event: AgentEvent) -> None:
        call_id = _call_id(event)
        match = next((step for step in self.pending_calls if call_id and step.call_id == call_id), None)
        if match is None:
            match = next((step for step in self.pending_calls if step.tool == event.name or not event.name), None)
        if match is None:
            name = clean_token(event.name or "tool")
            outcome = result_outcome(event)
            self.steps.append(_OpenStep(f"{name}:{outcome}", event.type.value, [event], event.content or "", ""))
            return
        self.pending_calls.remove(match)
        match.events.append(event)
        match.status = result_outcome(event)
        match.output_length = len(event.content or "")
        if match.status != "unset":
            match.action = f"{match.action}:{match.status}"

    def _release_held(self, keep: Sequence[AgentEvent] = ()) -> None:
        for held in self.held:
            if held not in keep:
                self.steps.append(_OpenStep(_plain_action(held), held.type.value, [held], held.content or "", ""))
                self.steps[-1].detail = _short(held.content)
        self.held = []

    def finish(self) -> list[_OpenStep]:
        self._release_held()
        return self.steps


def _closed_step(open_step: _OpenStep, position: int) -> Step:
    events = [*open_step.extra_events, *open_step.events]
    main = open_step.events[0]
    status = open_step.status
    if status == "unset" and any(event.status is EventStatus.ERROR for event in open_step.events):
        status = "error"
    durations = [event.duration_ms for event in events if event.duration_ms is not None]
    tokens = sum((event.tokens_input or 0) + (event.tokens_output or 0) for event in events)
    digest = hashlib.blake2b(f"{open_step.action.split(':')[0]}|{open_step.signature_text}".encode(), digest_size=8)
    return Step(
        action=open_step.action,
        kind=open_step.kind,
        position=position,
        event_ids=tuple(event.id for event in events),
        agent_id=main.agent_id,
        signature=digest.hexdigest(),
        timestamp=main.timestamp,
        status=status,
        step_index=main.step_index,
        duration_ms=sum(durations) if durations else None,
        tokens=tokens,
        input_length=len(open_step.signature_text),
        output_length=open_step.output_length,
        detail=open_step.detail,
    )


def abstract_session(
    events: Iterable[AgentEvent], *, session_id: str | None = None, success: bool | None = None
) -> SessionSequence:
    """The session's events (in the order they happened) as a sequence of steps."""
    ordered = list(events)
    abstractor = _Abstractor()
    for event in ordered:
        abstractor.feed(event)
    steps = tuple(_closed_step(open_step, position) for position, open_step in enumerate(abstractor.finish()))
    owner = next((event.agent_id for event in ordered if event.type is EventType.SESSION_START), None)
    agent_id = owner or (ordered[0].agent_id if ordered else "")
    found_id = session_id or (ordered[0].session_id if ordered else "")
    return SessionSequence(found_id, agent_id, steps, success, len(ordered))
