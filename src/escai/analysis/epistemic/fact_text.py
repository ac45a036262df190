"""Facts from text outputs: exit codes, errors and tracebacks, ``key: value`` lines, test-run summaries, short
"X is Y" sentences, file paths and URLs.

Every pattern is a compiled regular expression run over a bounded window of the output (its head and its tail,
where tracebacks and test summaries end up), so a megabyte of ``cat`` output costs as much as a few kilobytes.
Noise is kept out by shape: a ``key: value`` line needs a short key that starts with a letter and is not a code
keyword; a line without a key gives nothing, whatever it holds; error types without a message count only when
the step failed or the output is a traceback.
"""

from __future__ import annotations

import re
from typing import Final

from escai.analysis.epistemic.entities import ERROR, FILE, NUMBER, URL, FactCollector, entity_kind, relation_name
from escai.analysis.epistemic.fact_json import collect_structured, parse_structured

HEAD_CHARS: Final = 3000
"""Characters read from the start of a long output."""
TAIL_CHARS: Final = 1500
"""Characters read from its end (tracebacks and test summaries are at the end)."""
MAX_PATHS: Final = 8
"""File paths kept per output (a directory listing names hundreds)."""
MAX_URLS: Final = 5
MAX_ERRORS: Final = 4
MAX_SENTENCES: Final = 6
MAX_KEY_VALUES: Final = 16
"""``key: value`` facts kept per output (a tool's header block can hold dozens)."""
SENTENCE_CHARS: Final = 1500
"""Only the start of an output is read for sentences: prose comes first, then logs and listings."""

_EXIT_PATTERNS = (
    re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>"),
    re.compile(r"^\s*exit[ _]?code\s*[:=]?\s*(-?\d+)", re.IGNORECASE | re.MULTILINE),
    # Near a line's start only: prose that mentions "the exit code 1 means ..." deep in a sentence is no report.
    re.compile(
        r"^[^\n]{0,40}?\b(?:exit(?:ed)?(?: with)?|return(?:ed)?) (?:status|code)\s*[:=]?\s*(-?\d+)",
        re.IGNORECASE | re.MULTILINE,
    ),
    re.compile(r"non-zero exit status (-?\d+)"),
    re.compile(r"POSIX exit code(?: was)?:? (-?\d+)"),
)
EXIT_KEYS: Final = frozenset({"exitcode", "exit_code", "returncode", "return_code", "exit_status", "status_code"})
"""Keys of ``key: value`` lines that restate the exit code (reported once, as ``exit_code``)."""

_WRAPPER_TAG = re.compile(r"</?(?:returncode|output|output_head|output_tail|elided_chars|stdout|stderr)>")
_WARNING_BLOCK = re.compile(r"<warning>.*?</warning>", re.DOTALL)
_ELIDED = re.compile(r"<elided_chars>.*?</elided_chars>", re.DOTALL)

# No space before the colon: "name : type" is a docstring in a code listing, not a reported value.
_KEY_VALUE = re.compile(
    r"^[ \t]{0,4}(?:[-*•][ \t]+)?([A-Za-z][\w .'/-]{0,39}?(?<! )):[ \t]+(\S[^\n]*?)[ \t]*\r?$", re.M
)
_OUTPUT_LABELS = ("output", "result", "stdout", "stderr", "observation", "response")
_NON_BLANK = re.compile(r"\S")
_CODE_WORDS: Final = frozenset({
    "if", "elif", "else", "for", "while", "try", "except", "finally", "with", "def", "class", "return", "lambda",
    "case", "default", "switch", "do", "import", "from", "raise", "assert", "yield", "async", "await", "print",
    "echo", "info", "debug", "trace", "warning", "warn", "note", "usage", "hint", "tip", "example"
})  # fmt: skip
_ERROR_LINE = re.compile(
    r"^[ \t]*(?:E[ \t]+)?((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Fault))\b"
    r"(?:[ \t]*:[ \t]*([^\n]*?))?[ \t]*\r?$"
    r"|^[ \t]*(?:ERROR|Error|error|FATAL|Fatal|fatal)[ \t]*:[ \t]*([^\n]+?)[ \t]*\r?$",
    re.M,
)
_FAILED_TEST = re.compile(r"^(FAILED|ERROR) (\S+::\S+)(?: - ([^\n]*))?", re.M)
_TEST_SUMMARY = re.compile(r"^=+ ([^\n=]*?\d+ (?:passed|failed|errors?|skipped)[^\n=]*?) in [\d.]+s", re.M)
_TEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in [\d.]+s", re.M)
_SENTENCE = re.compile(
    r"(?:^|(?<=[.!?] ))([A-Z0-9][\w'’./-]*(?: [\w'’./-]+){0,5}?) "
    r"(is not|are not|was not|were not|isn't|aren't|wasn't|weren't|is|are|was|were) "
    r"([^.!?\n]{1,100}?)([.!?](?= |\n|$)|\n|$)",
    re.M,
)
_NOT_SUBJECTS: Final = frozenset({
    "it", "this", "that", "there", "these", "those", "here", "i", "you", "we", "he", "she", "they", "what",
    "which", "who", "whom", "why", "how", "if", "when", "where", "please", "your", "my", "our", "their", "its",
    "his", "her", "each", "all", "some", "no", "not", "none", "nothing", "everything", "something", "one"
})  # fmt: skip
_QUESTION_WORDS: Final = frozenset({"how", "what", "why", "where", "when", "who", "which", "whether"})
_ARTICLES: Final = frozenset({"the", "a", "an"})
_PATH = re.compile(r"(?<![\w/.:@-])((?:~|\.{1,2})?/?(?:[\w.@+-]+/)+[\w.@+-]*\.[A-Za-z][A-Za-z0-9]{0,7})(?![\w/])")
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`)\]}|]+")


def exit_code_of(text: str) -> int | None:
    """The exit code an output reports (``<returncode>1</returncode>``, ``exitcode: 1 ...``), None when it has none."""
    head = text[:400]
    for pattern in _EXIT_PATTERNS:
        match = pattern.search(head)
        if match:
            return int(match.group(1))
    return None


def unwrap_output(text: str) -> str:
    """The output itself, without an executor's wrapper tags and warnings about it (mini-swe-agent style)."""
    if "<" not in text[:200]:
        return text
    if "<warning>" in text:
        text = _WARNING_BLOCK.sub("", text)
    if "<elided_chars>" in text:
        text = _ELIDED.sub("\n", text)
    return _WRAPPER_TAG.sub("", text)


def window(text: str) -> str:
    """The part of ``text`` worth reading: all of a short output; the head and the tail of a long one."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return f"{text[:HEAD_CHARS]}\n{text[-TAIL_CHARS:]}"


def collect_errors(text: str, subject: str, subject_kind: str, collector: FactCollector, *, failed: bool) -> int:
    """Add ``subject raised <error>`` for error lines of ``text``; return how many were found.

    A line ``SomeError: message`` (also pytest's ``E   SomeError: ...``) or ``Error: message`` counts; a bare
    ``SomeError`` line counts only when the step ``failed`` or the text is a traceback.
    """
    if "rror" not in text and "xception" not in text and "RROR" not in text and "atal" not in text:
        return 0
    traceback = failed or "Traceback (most recent call last)" in text
    found = 0
    for match in _ERROR_LINE.finditer(text):
        error_type, message, plain = match.group(1), match.group(2), match.group(3)
        if error_type is not None:
            if not message and not traceback:
                continue
            label = f"{error_type}: {message}" if message else error_type
        else:
            label = f"Error: {plain}"
        found += 1
        if not collector.add(subject, subject_kind, "raised", label, ERROR) or found >= MAX_ERRORS:
            break
    return found


def collect_tests(text: str, subject: str, subject_kind: str, collector: FactCollector) -> None:
    """Add test-run results: failed test ids and pytest/unittest counts (``tests_passed``, ``tests_failed``, ...)."""
    if "passed" in text or "failed" in text or "error" in text:
        for match in _TEST_SUMMARY.finditer(text):
            for count, outcome in _TEST_COUNT.findall(match.group(1)):
                name = "errors" if outcome.startswith("error") else outcome
                if not collector.add(subject, subject_kind, f"tests_{name}", count, NUMBER):
                    return
    if "FAILED " in text or "ERROR " in text:
        for match in _FAILED_TEST.finditer(text):
            relation = "failed_test" if match.group(1) == "FAILED" else "errored_test"
            if not collector.add(subject, subject_kind, relation, match.group(2), "test"):
                return
    if "Ran " in text:
        for match in _UNITTEST_RAN.finditer(text):
            if not collector.add(subject, subject_kind, "tests_run", match.group(1), NUMBER):
                return


def collect_key_values(text: str, subject: str, subject_kind: str, collector: FactCollector) -> None:
    """Add ``subject --key--> value`` for ``key: value`` lines (short keys only, no code keywords, no exit codes)."""
    if ": " not in text and ":\t" not in text:
        return
    kept = 0
    for match in _KEY_VALUE.finditer(text):
        key, value = match.group(1).rstrip(), match.group(2)
        if key.count(" ") > 3 or "/" in key or entity_kind(key) == FILE:
            continue  # "path/to/file.py: line" is grep output: the path is a reference, the line is not a value
        relation = relation_name(key)
        if not relation or relation in EXIT_KEYS or relation.split("_", 1)[0] in _CODE_WORDS:
            continue
        if "error" in relation or relation in {"fatal", "traceback"} or entity_kind(key) == ERROR:
            continue  # error lines are collect_errors' business
        if value.endswith(":") or (relation.endswith(_OUTPUT_LABELS) and _NON_BLANK.search(text, match.end())):
            # "Code output: <first line of many>": only a one-line output is a value; a longer one is parsed as text.
            continue
        kept += 1
        structured = parse_structured(value) if value[0] in "[{" else None
        if structured is not None:
            # "Here are your notes: [{...}]": the value is a record or list printed on one line.
            collect_structured(structured, subject, subject_kind, collector, top_relation=relation)
        elif not collector.add(subject, subject_kind, relation, value):
            return
        if collector.full or kept >= MAX_KEY_VALUES:
            return


def collect_sentences(text: str, collector: FactCollector) -> None:
    """Add ``X --is--> Y`` for short copular sentences at the start of ``text`` ("The weather in Tokyo is sunny.")."""
    if " is " not in text and " are " not in text and " was " not in text and " were " not in text:
        return
    added = 0
    for match in _SENTENCE.finditer(text[:SENTENCE_CHARS]):
        subject, verb, obj, end = match.group(1), match.group(2), match.group(3).strip(), match.group(4)
        words = subject.lower().split(" ")
        if end == "?" or words[0] in _NOT_SUBJECTS or _QUESTION_WORDS.intersection(words):
            continue
        if obj.count(" ") > 11 or len(obj) < 2 or obj.endswith(":"):
            continue
        if words[0] in _ARTICLES and len(words) > 1:
            subject = subject.split(" ", 1)[1]
        relation = verb.replace("n't", " not").replace(" ", "_")
        added += 1
        if not collector.add(subject, entity_kind(subject), relation, obj) or added >= MAX_SENTENCES:
            return


def collect_references(text: str, subject: str, subject_kind: str, collector: FactCollector) -> None:
    """Add ``subject --mentions--> path`` and ``--mentions--> url`` for file paths and URLs in ``text``."""
    if "/" not in text:
        return
    if "://" in text:
        for count, match in enumerate(_URL.finditer(text), start=1):
            url = match.group(0).rstrip(".,;:!?'\"")
            if not collector.add(subject, subject_kind, "mentions", url, URL) or count >= MAX_URLS:
                break
    diff = "diff --git " in text or "\n+++ " in text
    for kept, match in enumerate(_PATH.finditer(text), start=1):
        path = match.group(1)
        if diff and path.startswith(("a/", "b/")):
            path = path[2:]  # a unified diff's old/new side markers, not part of the path
        if not collector.add(subject, subject_kind, "mentions", path, FILE) or kept >= MAX_PATHS:
            return
