"""Tool calls and tool results embedded in message text, as the logged frameworks write them.

Multi-agent chat logs (AG2/CaptainAgent, Magentic-One) and bash agents (mini-swe-agent) have no structured tool
calls: an agent asks for code execution by writing a fenced code block, and an executor answers with a message
that starts with the exit code. These parsers recover both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXECUTABLE_LANGUAGES = frozenset({"python", "py", "python3", "sh", "bash", "shell", "console"})
"""Fence languages that code executors run (AG2 and Magentic-One run ``python`` and ``sh`` blocks)."""

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)
_MINI_SWE_ACTION = re.compile(r"```bash\s*\n(.*?)\n```", re.DOTALL)
_LANGUAGE_TOOL = {"py": "python", "python3": "python", "bash": "sh", "shell": "sh", "console": "sh"}
_EXIT_CODE_PATTERNS = (
    re.compile(r"\Aexitcode: (-?\d+)"),  # AG2 / CaptainAgent code executor
    re.compile(r"\AThe script ran, then exited with an error \(POSIX exit code: (-?\d+)\)"),  # Magentic-One
    re.compile(r"\AThe script ran but produced no output to console\. The POSIX exit code was: (-?\d+)"),
)
_RETURNCODE = re.compile(r"\A\s*<returncode>(-?\d+)</returncode>")
_OUTPUT = re.compile(r"<output(?:_head|_tail)?>\n?(.*?)</output(?:_head|_tail)?>", re.DOTALL)


@dataclass(frozen=True, slots=True)
class CodeCall:
    """A request to run code, parsed out of a message: the tool (``python`` or ``sh``) and the code."""

    tool: str
    code: str


def code_calls(text: str, languages: frozenset[str] = EXECUTABLE_LANGUAGES) -> list[CodeCall]:
    """The fenced code blocks of ``text`` in an executable language, in order, as tool calls."""
    calls = []
    for match in _FENCE.finditer(text):
        language = match.group(1).lower()
        if language in languages:
            calls.append(CodeCall(_LANGUAGE_TOOL.get(language, language), match.group(2).rstrip("\n")))
    return calls


def execution_exit_code(text: str) -> int | None:
    """The exit code when ``text`` is a code executor's report (``exitcode: 1 (execution failed)``), else None."""
    for pattern in _EXIT_CODE_PATTERNS:
        match = pattern.search(text)
        if match:
            return int(match.group(1))
    return None


@dataclass(frozen=True, slots=True)
class MiniSweAction:
    """A mini-swe-agent model response split into its reasoning and its one bash command (None when not one)."""

    thought: str
    command: str | None
    blocks: int


def mini_swe_action(text: str) -> MiniSweAction:
    """Split ``THOUGHT: ... ```bash ...```: mini-swe-agent runs the command only when there is exactly one block."""
    blocks = _MINI_SWE_ACTION.findall(text)
    first = _MINI_SWE_ACTION.search(text)
    thought = text[: first.start()] if first else text
    thought = thought.strip().removeprefix("THOUGHT:").strip()
    return MiniSweAction(thought, blocks[0].strip() if len(blocks) == 1 else None, len(blocks))


@dataclass(frozen=True, slots=True)
class Observation:
    """A mini-swe-agent observation: the command's return code and its output."""

    returncode: int
    output: str


def mini_swe_observation(text: str) -> Observation | None:
    """Parse ``<returncode>N</returncode><output>...</output>``; None when ``text`` is not an observation."""
    match = _RETURNCODE.match(text)
    if match is None:
        return None
    output = _OUTPUT.search(text, match.end())
    return Observation(int(match.group(1)), output.group(1) if output else text[match.end() :].strip())
