"""Which format a file is in, decided by its structure (never by its name).

The first JSON value of the file is read (the first line of JSON Lines, else the whole document; gzip is undone
first) and its keys are matched against each format's signature, in this order:

================  ================================================================================
format            signature
================  ================================================================================
jsonl             ``session_id``, ``agent_id`` and ``type`` (an ESCAI event)
otel-json         ``spans`` is a list
langfuse          ``trace`` and ``observations``
mast              ``trace`` is text, with ``mas_name`` or ``annotations``
who-and-when      ``history`` with ``mistake_agent`` or ``question``
tau-bench         ``traj`` is a list and ``reward`` is present
mini-swe-agent    ``messages`` in ``traj`` (or at the top) with ``trajectory_format``, ``info`` or ``instance_id``
swe-agent         ``trajectory`` or ``history`` in ``traj`` (or at the top)
================  ================================================================================

A JSON list is classified by its first elements.
"""

from __future__ import annotations

from typing import Any

from escai.ingest.importers.base import ImporterError, SkippedRecord, Source, UnrecognisedFormatError, iter_values

_PEEK_BYTES = 4096


def _traj(value: dict[str, Any]) -> dict[str, Any]:
    inner = value.get("traj")
    return inner if isinstance(inner, dict) else value


def classify(value: Any) -> str | None:
    """The format whose signature a JSON value (a record, or a list of records) matches, or None."""
    if isinstance(value, list):
        for item in value[:3]:
            found = classify(item)
            if found is not None:
                return found
        return None
    if not isinstance(value, dict):
        return None
    keys = value.keys()
    if {"session_id", "agent_id", "type"} <= keys:
        return "jsonl"
    if isinstance(value.get("spans"), list):
        return "otel-json"
    if "trace" in keys and "observations" in keys:
        return "langfuse"
    if isinstance(value.get("trace"), str) and ("mas_name" in keys or "annotations" in keys):
        return "mast"
    if isinstance(value.get("history"), list) and ("mistake_agent" in keys or "question" in keys):
        return "who-and-when"
    if isinstance(value.get("traj"), list) and "reward" in keys:
        return "tau-bench"
    traj = _traj(value)
    if isinstance(traj.get("messages"), list) and (
        "trajectory_format" in traj or "info" in traj or "instance_id" in value
    ):
        return "mini-swe-agent"
    if isinstance(traj.get("trajectory"), list) or isinstance(traj.get("history"), list):
        return "swe-agent"
    return None


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(sorted(str(key) for key in value)[:12])
        return f"a JSON object with keys {keys or '(none)'}"
    if isinstance(value, list):
        return f"a JSON list of {len(value)} items" + (f" starting with {_describe(value[0])}" if value else "")
    return f"a JSON {type(value).__name__}"


def detect_format(source: Source) -> str:
    """The format of a file.

    Raises :class:`UnrecognisedFormatError` when the file is not JSON or matches no signature, and
    :class:`ImporterError` when it cannot be read or its JSON is broken.
    """
    with source.open() as stream:
        try:
            head = stream.read(_PEEK_BYTES)
        except (OSError, EOFError) as error:
            raise ImporterError(f"cannot read the file: {error}") from None
    stripped = head.lstrip()
    if not stripped:
        raise UnrecognisedFormatError("the file is empty")
    if stripped[:1] not in (b"{", b"["):
        raise UnrecognisedFormatError(f"not JSON or JSON Lines (starts with {stripped[:20]!r})")
    for _, value in iter_values(source):
        if isinstance(value, SkippedRecord):
            raise ImporterError(f"the first line is not valid JSON: {value.reason}")
        found = classify(value)
        if found is None:
            raise UnrecognisedFormatError(f"not a recognised format: {_describe(value)}")
        return found
    raise UnrecognisedFormatError("the file holds no JSON value")
