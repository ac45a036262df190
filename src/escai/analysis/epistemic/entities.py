"""Entity kinds of the knowledge graph, and the small helpers every fact parser shares.

A knowledge-graph node is an entity: a label (``astropy/modeling/separable.py``, ``HAT136``, ``Mia Li``) and a
kind. :func:`entity_kind` guesses the kind from the label alone; parsers that know more (the JSON key a value sat
under, the tool that produced it) pass their own kind instead. :class:`FactCollector` gathers one event's facts,
cleaning labels, dropping duplicates and stopping at a limit, so every parser can simply stop when it says so.
"""

from __future__ import annotations

import functools
import re
from typing import Final

from escai.model.records import KnowledgeFact

FILE: Final = "file"
URL: Final = "url"
EMAIL: Final = "email"
ID: Final = "id"
PERSON: Final = "person"
NUMBER: Final = "number"
DATE: Final = "date"
TIME: Final = "time"
ERROR: Final = "error"
COMMAND: Final = "command"
"""A command line that was run (the subject of its exit code and output)."""
TOOL: Final = "tool"
"""A tool or function the agent called, when the exact command is not known."""
VALUE: Final = "value"
"""Anything else: a word, a phrase, a boolean."""
ENTITY_KINDS: Final = (FILE, URL, EMAIL, ID, PERSON, NUMBER, DATE, TIME, ERROR, COMMAND, TOOL, VALUE)

MAX_LABEL: Final = 160
"""Longest node label kept; longer values are cut and end with an ellipsis (tool outputs can be megabytes)."""
MAX_RELATION: Final = 64

_SPACE = re.compile(r"\s+")
# Characters XML 1.0 cannot carry (GraphML export) and that no reader wants in a label: C0 controls, DEL, lone
# surrogates and the two non-characters.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_RELATION_CHARS = re.compile(r"[^0-9a-z.]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

_URL = re.compile(r"(?:https?|ftp)://\S+|www\.[\w-]+\.\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"[+-]?[$€£]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?\s?%?|[+-]?\.\d+")
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?|\d{1,2}/\d{1,2}/\d{2,4}"
)
_TEXT_DATE = re.compile(
    r"(?:\d{1,2} )?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?(?: \d{1,2}(?:st|nd|rd|th)?,?)? "
    r"\d{4}"
)
_TIME = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?[AaPp][Mm])?(?:[+-]\d{1,2})?")
_ERROR = re.compile(
    r"(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception)\b|(?:[Ee]rror|ERROR|[Ff]atal|FATAL|[Ee]xception)\s*:"
)
_PATH = re.compile(r"(?:~|\.{1,2})?/[^\s:]*|[\w.@+-]+(?:/[\w.@+-]+)+/?")
FILE_EXTENSIONS: Final = frozenset({
    "py", "pyi", "pyx", "ipynb", "txt", "md", "rst", "json", "jsonl", "yaml", "yml", "toml", "cfg", "ini", "conf",
    "csv", "tsv", "xlsx", "xls", "docx", "pdf", "png", "jpg", "jpeg", "gif", "svg", "html", "htm", "css", "js",
    "jsx", "ts", "tsx", "c", "h", "cc", "cpp", "hpp", "java", "kt", "go", "rs", "rb", "php", "sh", "bash", "zsh",
    "ps1", "bat", "sql", "db", "sqlite", "log", "xml", "lock", "patch", "diff", "tex", "bib", "zip", "gz", "tar",
    "tgz", "whl", "so", "dll", "mp3", "mp4", "wav"
})  # fmt: skip
_ID = re.compile(r"(?=[^\s]*\d)(?=[^\s]*[A-Za-z])[A-Za-z0-9][\w\-:#.]{2,63}")
_PERSON_NAME = re.compile(r"[A-Z][a-z'’.-]+(?: [A-Z][a-z'’.-]*){0,3}")

PERSON_KEYS: Final = frozenset(
    {"name", "full_name", "fullname", "person", "author", "owner", "assignee", "reporter", "contact", "customer",
     "user_name", "username", "passenger", "employee", "manager", "speaker"}
)  # fmt: skip
"""JSON keys whose capitalised-words value names a person."""


def clean_label(text: str, limit: int = MAX_LABEL) -> str:
    """``text`` on one line: whitespace runs become one space, control characters go, and it is cut to ``limit``."""
    if len(text) > limit * 2:
        # Only the kept prefix is worth normalising; a megabyte of output must not cost a megabyte of regex work.
        text = text[: limit * 2]
    text = _SPACE.sub(" ", text).strip()
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


@functools.lru_cache(maxsize=4096)
def relation_name(key: str) -> str:
    """A relation name from a key or label: ``Code output`` -> ``code_output``, ``userId`` -> ``user_id``."""
    # Cached: the same few hundred keys recur in every result of a tool, and this runs on the live path.
    if key != key.lower():
        key = _CAMEL.sub("_", key)
    name = _RELATION_CHARS.sub("_", key.lower()).strip("_.")
    return name[:MAX_RELATION]


def is_id_key(key: str) -> bool:
    """Whether a JSON key names an identifier (``id``, ``user_id``, ``flight_number``, ``orderId``, ``uuid``)."""
    lowered = key.lower()
    return (
        lowered in {"id", "uuid", "guid", "_id"}
        or lowered.endswith(("_id", "-id", "_uuid", "_number", "_no"))
        or key.endswith(("Id", "ID", "Number"))
    )


def entity_kind(label: str) -> str:
    """The entity kind a label most likely names, from the label alone (one of :data:`ENTITY_KINDS`).

    URLs, e-mail addresses, numbers (``1,024``, ``$55``, ``12.5%``), dates (ISO, ``5/20/2024``, ``Sep 26, 2022``),
    times, error types and messages, file paths, and identifiers (one token mixing letters and digits:
    ``HAT136``, ``mia_li_3668``) are recognised; anything else is a ``value``. A person cannot be told from a
    label alone: parsers that see a name key use :func:`kind_of_value`.
    """
    text = label.strip()
    if not text:
        return VALUE
    first = text[0]
    if first in "hHfFwW" and _URL.match(text):
        return URL
    if "@" in text and " " not in text and _EMAIL.fullmatch(text):
        return EMAIL
    if first.isdigit() or first in "+-$€£.":
        if _NUMBER.fullmatch(text):
            return NUMBER
        if _DATE.fullmatch(text):
            return DATE
        if _TIME.fullmatch(text):
            return TIME
    if _ERROR.match(text):
        return ERROR
    if " " not in text:
        if "/" in text and _PATH.fullmatch(text) and _looks_like_path(text):
            return FILE
        if "." in text and text.rsplit(".", 1)[1].lower() in FILE_EXTENSIONS and "/" not in text:
            return FILE
        if _ID.fullmatch(text):
            return ID
    if first.isalnum() and _TEXT_DATE.fullmatch(text):
        return DATE
    return VALUE


def _looks_like_path(text: str) -> bool:
    # "America/New_York" or "and/or" are not files: a path is rooted, relative to ".", or names a file by extension.
    if text.startswith(("/", "./", "../", "~/")) or text.endswith("/"):
        return True
    last = text.rsplit("/", 1)[1]
    return "." in last and last.rsplit(".", 1)[1].lower() in FILE_EXTENSIONS


def kind_of_value(key: str, value: str) -> str:
    """The kind of ``value`` found under ``key``: the key decides for identifiers and people, the label otherwise."""
    if is_id_key(key) and " " not in value:
        return ID
    if key.lower() in PERSON_KEYS and _PERSON_NAME.fullmatch(value):
        return PERSON
    return entity_kind(value)


class FactCollector:
    """The facts of one event, in order, without duplicates, up to ``limit``.

    Labels are cleaned (one line, at most :data:`MAX_LABEL` characters); a fact with an empty subject, relation
    or object is dropped. ``full`` turns true at the limit, and parsers stop there.
    """

    __slots__ = ("_seen", "facts", "limit", "source_event_id")

    def __init__(self, source_event_id: str | None, limit: int) -> None:
        self.source_event_id = source_event_id
        self.limit = limit
        self.facts: list[KnowledgeFact] = []
        self._seen: set[tuple[str, str, str]] = set()

    @property
    def full(self) -> bool:
        """Whether the limit is reached."""
        return len(self.facts) >= self.limit

    def add(self, subject: str, subject_kind: str, relation: str, obj: str, object_kind: str | None = None) -> bool:
        """Add one fact (``object_kind`` guessed from the object when None); False once the collector is full."""
        if len(self.facts) >= self.limit:
            return False
        subject = clean_label(subject)
        obj = clean_label(obj)
        if not subject or not obj or not relation:
            return True
        key = (subject, relation, obj)
        if key in self._seen:
            return True
        self._seen.add(key)
        self.facts.append(
            KnowledgeFact(
                subject=subject,
                relation=relation,
                object=obj,
                source_event_id=self.source_event_id,
                subject_kind=subject_kind,
                object_kind=object_kind if object_kind is not None else entity_kind(obj),
            )
        )
        return len(self.facts) < self.limit
