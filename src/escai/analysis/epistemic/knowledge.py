"""Knowledge extraction: the facts one event establishes about the agent's world, as (subject, relation, object).

Facts come only from events that report on the world: tool results, observations, memory events and chat
messages of the ``tool`` role. What an agent says or thinks is a belief (``beliefs.py``), not knowledge.

The subject of a fact is the entity the output is about: the record's own identifier for structured results
(``HAT136 --origin--> JFK``), else the entity the call asked about (``get_user_details(user_id=mia_li_3668)``
makes ``mia_li_3668`` the subject of the user record), else the command that ran (``python reproduce.py
--exit_code--> 1``), else the tool's name. The call is known when the caller passes the matching ``tool_call``
event (the live tracker keeps it by call id or parent id); without it the tool's name is the subject.

Everything here is deterministic and bounded (see :mod:`~escai.analysis.epistemic.fact_text` for the windows),
because it runs on the live path for every incoming event.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Mapping
from typing import Any, Final

import orjson

from escai.analysis.epistemic.entities import (
    COMMAND,
    ERROR,
    ID,
    NUMBER,
    TOOL,
    FactCollector,
    entity_kind,
    is_id_key,
)
from escai.analysis.epistemic.fact_json import collect_structured, parse_structured
from escai.analysis.epistemic.fact_text import (
    collect_errors,
    collect_key_values,
    collect_references,
    collect_sentences,
    collect_tests,
    exit_code_of,
    unwrap_output,
    window,
)
from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import KnowledgeFact
from escai.model.semconv import MESSAGE_ROLE, PROCESS_EXIT_CODE
from escai.model.semconv_otlp import GEN_AI_TOOL_CALL_ARGUMENTS, GEN_AI_TOOL_CALL_RESULT

__all__ = ["DEFAULT_LIMIT", "WORLD_EVENT_TYPES", "entity_kind", "extract_facts", "reports_on_world"]

TOOL_ROLE: Final = "tool"

DEFAULT_LIMIT: Final = 40
"""Facts kept per event by default."""
WORLD_EVENT_TYPES: Final = frozenset({EventType.TOOL_RESULT, EventType.OBSERVATION, EventType.MEMORY})
_COMMAND_KEYS: Final = ("command", "cmd", "shell_command", "bash_command")
_ERROR_KEYS: Final = ("error", "error_message", "message", "detail", "reason")
_MAX_COMMAND = 200
_MAX_ARGUMENT_CHARS = 20_000


def reports_on_world(event: AgentEvent) -> bool:
    """Whether ``event`` reports on the world: a tool result, observation, memory, or a ``tool``-role message."""
    if event.type in WORLD_EVENT_TYPES:
        return True
    return event.type is EventType.MESSAGE and event.attributes.get(MESSAGE_ROLE) == TOOL_ROLE


def extract_facts(
    event: AgentEvent, *, limit: int = DEFAULT_LIMIT, call: AgentEvent | None = None
) -> list[KnowledgeFact]:
    """The facts ``event`` establishes, in order of importance, at most ``limit``; empty for other event kinds.

    ``call`` is the ``tool_call`` event the result answers, when the caller knows it: its command and arguments
    name the subject better than the tool's name does. The order is: the exit code, errors raised, the facts of
    a structured (JSON) result or of the text (``key: value`` lines, test results, short "X is Y" sentences),
    then file paths and URLs mentioned.
    """
    if limit <= 0 or not reports_on_world(event):
        return []
    collector = FactCollector(event.id, limit)
    tool = _tool_name(event, call)
    arguments = _arguments(event, call)
    command = _command(arguments)
    subject, subject_kind = (command, COMMAND) if command else (tool, TOOL)
    raw = _output_text(event)

    exit_code = _exit_code(event, raw)
    if exit_code is not None:
        collector.add(subject, subject_kind, "exit_code", str(exit_code), NUMBER)
    failed = event.status is EventStatus.ERROR or bool(exit_code)
    _collect_error_attributes(event, subject, subject_kind, collector)

    body = unwrap_output(raw)
    structured = parse_structured(body) if body else None
    if structured is None and body:
        structured = parse_structured(_after_preamble(body))
    if structured is not None:
        if failed:
            _collect_structured_error(structured, subject, subject_kind, collector)
        about = _argument_identity(arguments) or (subject, subject_kind)
        collect_structured(structured, about[0], about[1], collector)
    elif body and not body.isspace():
        text = window(body)
        found = collect_errors(text, subject, subject_kind, collector, failed=failed)
        if failed and not found and not collector.full:
            collector.add(subject, subject_kind, "raised", _last_line(text), ERROR)
        collect_tests(text, subject, subject_kind, collector)
        collect_key_values(text, subject, subject_kind, collector)
        collect_sentences(text, collector)
        collect_references(text, subject, subject_kind, collector)
    return collector.facts


def _tool_name(event: AgentEvent, call: AgentEvent | None) -> str:
    for source in (event, call):
        if source is None:
            continue
        for key in (semconv.GEN_AI_TOOL_NAME, semconv.TOOL_NAME):
            value = source.attributes.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        if source.name:
            return source.name
    return event.type.value


def _output_text(event: AgentEvent) -> str:
    if event.content:
        return event.content
    for key in (semconv.OUTPUT_VALUE, GEN_AI_TOOL_CALL_RESULT):
        value = event.attributes.get(key)
        if isinstance(value, str):
            return value
        if value is not None:
            return orjson.dumps(value, default=str).decode()
    return ""


def _exit_code(event: AgentEvent, text: str) -> int | None:
    value = event.attributes.get(PROCESS_EXIT_CODE)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return exit_code_of(text) if text else None


def _collect_error_attributes(event: AgentEvent, subject: str, subject_kind: str, collector: FactCollector) -> None:
    error_type = event.attributes.get(semconv.ESCAI_ERROR_TYPE)
    message = event.attributes.get(semconv.ESCAI_ERROR_MESSAGE)
    if isinstance(error_type, str) and error_type:
        label = f"{error_type}: {message}" if isinstance(message, str) and message else error_type
        collector.add(subject, subject_kind, "raised", label, ERROR)


def _collect_structured_error(value: Any, subject: str, subject_kind: str, collector: FactCollector) -> None:
    """A failed step's JSON body ``{"error": "..."}`` names what it raised."""
    if not isinstance(value, Mapping):
        return
    for key in _ERROR_KEYS:
        message = value.get(key)
        if isinstance(message, Mapping):
            message = message.get("message")
        if isinstance(message, str) and message.strip():
            collector.add(subject, subject_kind, "raised", message, ERROR)
            return


def _arguments(event: AgentEvent, call: AgentEvent | None) -> Mapping[str, Any]:
    """The call's arguments as a mapping: from the result's or the call's attributes, else the call's JSON body."""
    for source in (event, call):
        if source is not None:
            parsed = _as_mapping(source.attributes.get(GEN_AI_TOOL_CALL_ARGUMENTS))
            if parsed:
                return parsed
    if call is not None and call.content:
        return _as_mapping(call.content)
    return {}


def _as_mapping(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str) or not value.startswith("{") or len(value) > _MAX_ARGUMENT_CHARS:
        return {}
    parsed: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        parsed = orjson.loads(value)
    if parsed is None:
        # Importers keep some arguments as Python reprs ("{'user_id': 'x'}"); literal_eval runs no code.
        with contextlib.suppress(ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            parsed = ast.literal_eval(value)
    return parsed if isinstance(parsed, Mapping) else {}


def _command(arguments: Mapping[str, Any]) -> str | None:
    """The one-line command that ran, when the call names one (a multi-line script is named by its tool)."""
    for candidate in (arguments.get(key) for key in _COMMAND_KEYS):
        if isinstance(candidate, str):
            text = candidate.strip()
            if text and "\n" not in text and len(text) <= _MAX_COMMAND:
                return text
    return None


def _argument_identity(arguments: Mapping[str, Any]) -> tuple[str, str] | None:
    """The entity a call asked about: its first identifier argument (``user_id``, ``order_id``, ...)."""
    for key, value in arguments.items():
        if isinstance(key, str) and is_id_key(key) and isinstance(value, str | int) and not isinstance(value, bool):
            label = str(value).strip()
            if label and " " not in label:
                return label, ID
    return None


def _after_preamble(text: str) -> str:
    """The text from the first line that opens a JSON value, within the first few lines ("Result:\\n{...}")."""
    position = 0
    for _ in range(4):
        newline = text.find("\n", position)
        if newline < 0:
            return ""
        position = newline + 1
        if text[position : position + 1] in ("{", "["):
            return text[position:]
    return ""


def _last_line(text: str) -> str:
    """The last line that is not an exit-code report: where shells and runtimes put the reason of a failure."""
    for line in reversed(text[-2000:].splitlines()):
        if line.strip() and exit_code_of(line) is None:
            return line
    return ""
