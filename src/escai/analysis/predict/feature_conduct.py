"""The ``conduct`` feature group: general signals of how the work is going, for conversational and tool agents.

Every cue is general English or a generic verb, never a word of one benchmark: the other party's frustration
(exclamations, words of annoyance, shouting), the agent asking for confirmation, the agent refusing or citing a
policy, retrying the same action right after it failed and recovering from a failure, read-like versus write-like
actions (generic verbs in the tool name or the shell program and its first argument), the lines of text the agent
sends into write-like actions (a generic size of its edits), and where the latest write and error lie. All of it
is updated in constant work per event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from escai.analysis.behaviour.sequences import clean_token, result_outcome, tool_action
from escai.analysis.predict.feature_groups import message_side
from escai.analysis.predict.features import Evidence, register_feature_group
from escai.model import semconv
from escai.model.events import AgentEvent, EventType
from escai.model.semconv_otlp import GEN_AI_TOOL_CALL_ARGUMENTS

_FLAGS = re.IGNORECASE
FRUSTRATION = re.compile(
    r"\b(frustrat\w*|annoy\w*|ridiculous|unacceptable|upset|angry|terrible|awful|seriously|already (told|said)|"
    r"again\?|still (not|doesn't|don't|isn't)|why (is|are|did|can't|won't))\b",
    _FLAGS,
)
CONFIRMATION = re.compile(
    r"\b(would you like|do you want|shall i|should i|(can|could) you (please )?confirm|please confirm|"
    r"confirm (that|if|whether)|"
    r"is that (correct|right|ok)|do you agree|(yes|y)/(no|n))\b",
    _FLAGS,
)
REFUSAL = re.compile(
    r"\b(i'?m sorry,? but|i (cannot|can't|am unable to|am not able to)|not (allowed|permitted|possible|eligible)|"
    r"against (the |our )?polic\w+|(our|the) polic\w+|unable to (help|assist|process)|transfer\w* (you|to))\b",
    _FLAGS,
)
READ_VERBS = frozenset(
    [
        "get",
        "read",
        "list",
        "search",
        "find",
        "show",
        "view",
        "fetch",
        "query",
        "look",
        "lookup",
        "check",
        "cat",
        "grep",
        "head",
        "tail",
        "ls",
        "less",
        "more",
        "tree",
        "describe",
        "inspect",
        "status",
        "diff",
        "print",
        "open",
        "browse",
        "calculate",
        "count",
        "stat",
        "nl",
        "wc",
        "awk",
        "log",
        "blame",
    ]
)
WRITE_VERBS = frozenset(
    [
        "set",
        "update",
        "write",
        "create",
        "edit",
        "modify",
        "delete",
        "remove",
        "cancel",
        "send",
        "submit",
        "post",
        "put",
        "patch",
        "apply",
        "insert",
        "add",
        "replace",
        "rename",
        "move",
        "mv",
        "cp",
        "rm",
        "tee",
        "mkdir",
        "touch",
        "save",
        "commit",
        "push",
        "install",
        "change",
        "exchange",
        "return",
        "refund",
        "transfer",
    ]
)
_AGENT_TEXT_TYPES = frozenset({EventType.THOUGHT, EventType.LLM_RESPONSE, EventType.PLAN, EventType.DECISION})
RUN_VERBS = frozenset(
    [
        "run",
        "execute",
        "exec",
        "test",
        "tests",
        "pytest",
        "python",
        "python3",
        "node",
        "npm",
        "npx",
        "make",
        "cargo",
        "go",
        "java",
        "ruby",
        "tox",
        "nox",
        "unittest",
    ]
)
_HUNK = re.compile(r"^@@ -\d+(,\d+)? \+\d+(,\d+)? @@", re.MULTILINE)
_CHANGED_LINE = re.compile(r"^[+-](?![+-]{2} )", re.MULTILINE)
_DIFF_FILE = re.compile(r"^\+\+\+ ", re.MULTILINE)
_WORD = re.compile(r"[a-z]+")
_SCANNED_CHARS = 20_000
_COMMAND_CHARS = 2_000  # the verbs and redirects of a command sit in its first lines

CONDUCT_FEATURES: dict[str, str] = {
    "other_frustration": "words of frustration in the other party's messages",
    "other_exclamations": "exclamation marks in the other party's messages",
    "other_shouting": "words in capitals in the other party's messages",
    "agent_confirmations": "times the agent asked the other party to confirm",
    "agent_refusals": "refusals or policy citations by the agent",
    "retry_after_error": "calls repeating the action that just failed",
    "recoveries": "failed actions that later succeeded",
    "unrecovered_failures": "actions whose latest result failed",
    "read_actions": "read-like actions (get, list, search, cat, grep, ...)",
    "write_actions": "write-like actions (update, create, edit, delete, sed, ...)",
    "write_share": "share of read or write actions that write",
    "run_actions": "actions that run code or tests (python, pytest, make, run_*, ...)",
    "runs_since_write": "runs of code or tests since the latest write-like action",
    "write_lines": "lines of text sent into write-like actions",
    "steps_since_write": "steps since the latest write-like action",
    "diff_lines": "changed lines in the latest unified diff a tool printed",
    "diff_files": "files in the latest unified diff a tool printed",
    "steps_since_error": "steps since the latest failure",
    "reads_before_first_write": "read-like actions before the first write-like one",
}


_REDIRECT = re.compile(r"(?<![0-9&>])>(?!&)|\|\s*tee\b|\s-i\b|\bgit\s+apply\b")
"""Shell syntax that writes a file: a redirect (not ``2>&1``), ``tee``, in-place editing (``sed -i``), ``git apply``."""


def action_verbs(event: AgentEvent) -> set[str]:
    """Lower-case words saying what a tool call does, plus ``write`` when a shell command writes a file.

    For a shell tool (whose normalised action is the program, not the tool name) the words are the program and
    its subcommand when it has one (``git diff`` reads, ``git checkout`` writes); for any other tool they are the
    words of its name (``get_user_details``, ``update_reservation``).
    """
    tool = event.name or ""
    action = tool_action(event)
    if action == clean_token(tool) or not event.content:
        return set(_WORD.findall(tool.lower())) | set(_WORD.findall(action.lower()))
    command = event.content[:_COMMAND_CHARS]
    words = {action.lower()}
    parts = command.split()
    if len(parts) > 1 and parts[1].isalpha():
        words.add(parts[1].lower())
    if _REDIRECT.search(command):
        words.add("write")
    return words


def _call_text(event: AgentEvent) -> str:
    arguments = event.attributes.get(GEN_AI_TOOL_CALL_ARGUMENTS)
    if isinstance(arguments, Mapping):
        return "\n".join(str(value) for value in arguments.values())
    return event.content or (arguments if isinstance(arguments, str) else "")


class _Conduct:
    def __init__(self) -> None:
        self.counts = dict.fromkeys(CONDUCT_FEATURES, 0.0)
        self.main_agent: str | None = None
        self.last_failed_action: str | None = None
        self.pending: dict[str, str] = {}
        self.last_action: str | None = None
        self.failing_actions: set[str] = set()
        self.seen_write = False
        self.proof = Evidence()

    def update(self, event: AgentEvent) -> None:
        if event.type is EventType.SESSION_START:
            self.main_agent = event.agent_id
            return
        counts = self.counts
        counts["steps_since_write"] += 1
        counts["steps_since_error"] += 1
        if event.type is EventType.TOOL_CALL:
            self._on_call(event)
        elif event.type is EventType.TOOL_RESULT:
            self._on_result(event)
        elif event.type is EventType.ERROR:
            counts["steps_since_error"] = 0.0
        elif event.type in _AGENT_TEXT_TYPES:
            self._on_agent(event, (event.content or "")[:_SCANNED_CHARS])
        elif event.type is EventType.MESSAGE:
            text = (event.content or "")[:_SCANNED_CHARS]
            side = message_side(event, self.main_agent)
            if side == "other":
                self._on_other(event, text)
            elif side == "agent":
                self._on_agent(event, text)

    def _on_other(self, event: AgentEvent, text: str) -> None:
        counts = self.counts
        frustration = len(FRUSTRATION.findall(text))
        counts["other_frustration"] += frustration
        counts["other_exclamations"] += text.count("!")
        counts["other_shouting"] += sum(1 for word in text.split() if len(word) > 2 and word.isupper())
        if frustration:
            self.proof.add("other_frustration", event.id)

    def _on_agent(self, event: AgentEvent, text: str) -> None:
        if CONFIRMATION.search(text):
            self.counts["agent_confirmations"] += 1
            self.proof.add("agent_confirmations", event.id)
        if REFUSAL.search(text):
            self.counts["agent_refusals"] += 1
            self.proof.add("agent_refusals", event.id)

    def _on_call(self, event: AgentEvent) -> None:
        counts = self.counts
        action = tool_action(event)
        if action == self.last_failed_action:
            counts["retry_after_error"] += 1
            self.proof.add("retry_after_error", event.id)
        call_id = event.attributes.get(semconv.GEN_AI_TOOL_CALL_ID)
        self.pending[str(call_id) if call_id else event.id] = action
        self.last_action = action
        verbs = action_verbs(event)
        if verbs & WRITE_VERBS:
            counts["write_actions"] += 1
            counts["write_lines"] += _call_text(event)[:_SCANNED_CHARS].count("\n") + 1
            counts["steps_since_write"] = 0.0
            self.seen_write = True
            self.proof.add("write_actions", event.id)
            counts["runs_since_write"] = 0.0
        elif verbs & RUN_VERBS:
            counts["run_actions"] += 1
            counts["runs_since_write"] += 1
            self.proof.add("run_actions", event.id)
        elif verbs & READ_VERBS:
            counts["read_actions"] += 1
            if not self.seen_write:
                counts["reads_before_first_write"] += 1
        acted = counts["read_actions"] + counts["write_actions"]
        counts["write_share"] = counts["write_actions"] / acted if acted else 0.0

    def _on_result(self, event: AgentEvent) -> None:
        counts = self.counts
        text = (event.content or "")[:_SCANNED_CHARS]
        if _HUNK.search(text):
            # A unified diff (git diff, diff -u, a patch being shown): a generic size of the change made so far.
            counts["diff_lines"] = float(len(_CHANGED_LINE.findall(text)))
            counts["diff_files"] = float(max(1, len(_DIFF_FILE.findall(text))))
            self.proof.add("diff_lines", event.id)
        call_id = event.attributes.get(semconv.GEN_AI_TOOL_CALL_ID)
        key = str(call_id) if call_id else event.parent_id
        action = (self.pending.pop(key, None) if key else None) or self.last_action
        failed = result_outcome(event) == "error"
        self.last_failed_action = action if failed else None
        if action is None:
            return
        if failed:
            counts["steps_since_error"] = 0.0
            self.failing_actions.add(action)
            self.proof.add("unrecovered_failures", event.id)
        elif action in self.failing_actions:
            self.failing_actions.discard(action)
            counts["recoveries"] += 1
            self.proof.add("recoveries", event.id)
        counts["unrecovered_failures"] = float(len(self.failing_actions))

    def values(self) -> dict[str, float]:
        return dict(self.counts)

    def evidence(self) -> Mapping[str, Sequence[str]]:
        return self.proof.as_mapping()


class ConductGroup:
    """Frustration, confirmation, refusal, retries and recoveries, read versus write actions and edit sizes."""

    name = "conduct"
    descriptions: Mapping[str, str] = CONDUCT_FEATURES

    def start(self) -> _Conduct:
        """A fresh accumulator."""
        return _Conduct()


register_feature_group(ConductGroup.name, ConductGroup)
