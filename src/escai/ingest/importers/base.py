"""What every importer shares: the imported run, the importer protocol, reading (gzip transparently), stable ids,
and timestamps for data that has none.

An importer turns one file into :class:`ImportedRun` values, one per monitored session, lazily: JSON Lines files
are read a line at a time, so a file of any size streams; a single JSON document is parsed whole (there is no
streaming JSON parser among ESCAI's dependencies). A record that cannot be converted becomes a
:class:`SkippedRecord` with the reason, and the rest of the file goes on.

Ids are derived from the data (format, natural key, a digest of the record), never random, so importing the same
file twice stores each event once. Where the data has no timestamps, :class:`Clock` synthesises them: the run
starts at :data:`SYNTHETIC_EPOCH` (2024-01-01T00:00:00Z) and each event is :data:`SYNTHETIC_STEP` (one second)
after the previous one, which keeps the recorded order.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from escai.exceptions import EscaiError
from escai.model import semconv
from escai.model.events import MAX_ID_LENGTH, MAX_NAME_LENGTH, AgentEvent, EventStatus, EventType
from escai.model.semconv_otlp import GEN_AI_TOOL_CALL_ARGUMENTS

SYNTHETIC_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
"""Where synthesised timestamps start (data without timestamps: Who&When, tau-bench, SWE-agent, parts of MAST)."""
SYNTHETIC_STEP = timedelta(seconds=1)
"""Gap between two synthesised timestamps of one run."""
OBSERVED_STEP = timedelta(milliseconds=1)
"""Gap used to place an event without a timestamp just after its predecessor in a run that has real times."""

TOOL_ARGUMENTS = GEN_AI_TOOL_CALL_ARGUMENTS
"""A tool call's arguments as a JSON value."""

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_SESSION_KEY = 60


class ImporterError(EscaiError):
    """A file cannot be imported as the chosen format (unreadable, not JSON, wrong structure)."""


class UnrecognisedFormatError(ImporterError):
    """Auto-detection found no known format: the file is not JSON, or JSON of an unknown structure."""


@dataclass(frozen=True, slots=True)
class ImportedRun:
    """One monitored session read from a file: its events in order and the ground truth that came with it."""

    session_id: str
    events: list[AgentEvent]
    annotations: dict[str, Any]
    """Labels recorded in the data (kept apart from anything ESCAI predicts); also on the session_start event."""
    format: str
    ref: str
    """Where the run is in its file, e.g. ``line 3`` or ``item 12``."""


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    """A record of a file that was not imported, and why."""

    ref: str
    reason: str


ImportItem = ImportedRun | SkippedRecord


class Source:
    """An input file opened for reading: gzip is undone transparently, and compressed bytes read are counted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self._raw: _CountingFile | None = None

    @property
    def consumed(self) -> int:
        """Bytes of the file on disk read so far (for progress)."""
        return 0 if self._raw is None else self._raw.count

    def open(self) -> io.BufferedIOBase:
        """The file's content as a binary stream, decompressed when it is gzip (detected by its magic bytes)."""
        handle = self.path.open("rb")
        head = handle.read(2)
        handle.seek(0)
        self._raw = _CountingFile(handle)
        reader = io.BufferedReader(self._raw, buffer_size=1 << 16)
        if head == _GZIP_MAGIC:
            return _GzipStream(reader)
        return reader


class _GzipStream(gzip.GzipFile):
    """A gzip reader that closes the file under it too (``GzipFile`` leaves a passed-in file open)."""

    def __init__(self, reader: io.BufferedIOBase) -> None:
        super().__init__(fileobj=reader, mode="rb")
        self._reader = reader

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._reader.close()


class _CountingFile(io.RawIOBase):
    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._handle.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)

    def close(self) -> None:
        self._handle.close()
        super().close()


class Importer(Protocol):
    """Reads one format: yields the runs of a file lazily, or a skipped record with its reason."""

    name: str
    """The format name used on the command line (``tau-bench``, ``langfuse``, ...)."""

    def read(self, source: Source) -> Iterator[ImportItem]:
        """The runs of one file, in file order; raises :class:`ImporterError` when the file is not this format."""
        ...


def loads(data: bytes, *, exact_integers: bool = False) -> Any:
    """Parse JSON; the non-standard ``NaN`` / ``Infinity`` that Python's json writes are read as null.

    orjson reads an integer wider than 64 bits as a (lossy) float; ``exact_integers`` parses with the standard
    library instead, which keeps it exact (OpenTelemetry dumps write 128-bit trace ids as numbers).
    """
    if not exact_integers:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # orjson refuses NaN, which some published data sets contain (an annotator who did not vote)
    return json.loads(data, parse_constant=lambda _: None)


def iter_values(source: Source, *, exact_integers: bool = False) -> Iterator[tuple[str, Any]]:
    """The top-level JSON values of a file with where each came from: one per line for JSON Lines, else one.

    A file whose first line is a complete JSON value is read as JSON Lines (a one-line document reads the same
    way); otherwise the whole file is one JSON document. A malformed line yields a :class:`SkippedRecord`.
    """
    with source.open() as stream:
        try:
            first = stream.readline()
        except (OSError, EOFError) as error:
            raise ImporterError(f"cannot read the file: {error}") from None
        try:
            value = loads(first, exact_integers=exact_integers)
        except ValueError:
            try:
                document = loads(first + stream.read(), exact_integers=exact_integers)
            except ValueError as error:
                raise ImporterError(f"not valid JSON or JSON Lines: {error}") from None
            except (OSError, EOFError) as error:
                raise ImporterError(f"cannot read the file: {error}") from None
            yield "document", document
            return
        first_pending = True  # a file of one line is a document: its records are named "item N", not "line 1 item N"
        for number, line in enumerate(stream, start=2):
            if not line.strip():
                continue
            if first_pending:
                yield "line 1", value
                first_pending = False
            try:
                yield f"line {number}", loads(line, exact_integers=exact_integers)
            except ValueError as error:
                yield f"line {number}", SkippedRecord(f"line {number}", f"not valid JSON: {error}")
        if first_pending:
            yield "document", value


def iter_records(source: Source, *, exact_integers: bool = False) -> Iterator[tuple[str, Any]]:
    """Like :func:`iter_values`, with top-level lists opened: each element is a record of its own."""
    for ref, value in iter_values(source, exact_integers=exact_integers):
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield (f"item {index}" if ref == "document" else f"{ref} item {index}"), item
        else:
            yield ref, value


def digest(value: Any, length: int = 10) -> str:
    """A short, stable content hash of a JSON value: the same record always gets the same ids."""
    try:
        data = orjson.dumps(value, default=str)
    except TypeError:  # integers wider than 64 bits (OpenTelemetry ids written as numbers)
        data = json.dumps(value, default=str, ensure_ascii=False).encode()
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()[:length]


def session_id_for(format_name: str, key: str, record: Any) -> str:
    """``format/key/digest``: readable, unique per distinct record, identical when the same record is re-imported."""
    cleaned = "".join(char if char.isalnum() or char in "-_.:" else "_" for char in key)[:_MAX_SESSION_KEY]
    return f"{format_name}/{cleaned}/{digest(record)}"


def tool_arguments(raw: Any) -> Any:
    """OpenAI-style tool-call arguments: the decoded JSON when they are a JSON string, else the value as given."""
    if isinstance(raw, str):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
    return raw


def mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (optional parts of a record)."""
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list[Any]:
    """``value`` when it is a JSON list, else an empty one (optional parts of a record)."""
    return value if isinstance(value, list) else []


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (names and ids have column limits)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_text(value: Any) -> str | None:
    """Content as text: strings unchanged, other JSON values serialised, None kept."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string or Unix seconds as an aware UTC datetime; None when absent or unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


class Clock:
    """Timestamps for one run that never go backwards.

    An observed timestamp is used when it is not earlier than the previous event's; otherwise (missing, or out of
    order in the source) the event is placed ``step`` after its predecessor, so the recorded order is kept.
    """

    def __init__(self, start: datetime = SYNTHETIC_EPOCH, step: timedelta = SYNTHETIC_STEP) -> None:
        self._next = start
        self._last: datetime | None = None
        self._step = step

    def tick(self, observed: datetime | None = None) -> datetime:
        """The timestamp of the next event."""
        if observed is not None and (self._last is None or observed >= self._last):
            self._last = observed
        elif self._last is None:
            self._last = self._next
        else:
            self._last = self._last + self._step
        return self._last


@dataclass(slots=True)
class RunBuilder:
    """Collects the events of one run with stable ids, monotonic timestamps and the session's start and end."""

    session_id: str
    format: str
    framework: str | None
    clock: Clock = field(default_factory=Clock)
    trace_id: str | None = None
    events: list[AgentEvent] = field(default_factory=list)
    annotations: dict[str, Any] = field(default_factory=dict)
    root_id: str | None = None

    def next_id(self) -> str:
        """The id the next added event will get."""
        event_id = f"{self.session_id}#{len(self.events)}"
        if len(event_id) > MAX_ID_LENGTH:
            event_id = hashlib.sha1(event_id.encode(), usedforsecurity=False).hexdigest()
        return event_id

    def add(
        self,
        event_type: EventType,
        agent_id: str,
        *,
        content: str | None = None,
        name: str | None = None,
        step_index: int | None = None,
        parent_id: str | None = None,
        attributes: dict[str, Any] | None = None,
        status: EventStatus = EventStatus.UNSET,
        observed: datetime | None = None,
        timestamp: datetime | None = None,
        tokens_input: int | None = None,
        tokens_output: int | None = None,
        cost: float | None = None,
        duration_ms: float | None = None,
        span_id: str | None = None,
    ) -> str:
        """Append one event and return its id (to use as a parent).

        ``observed`` is a timestamp from the data, passed through the run's :class:`Clock`; ``timestamp`` is used
        as given (span formats, whose events carry real start and end times). The parent defaults to the run's
        session_start event so that every run is one tree.
        """
        event_id = self.next_id()
        agent = clip(agent_id.strip() or "unknown", MAX_ID_LENGTH)
        self.events.append(
            AgentEvent(
                id=event_id,
                session_id=self.session_id,
                agent_id=agent,
                agent_name=clip(agent, MAX_NAME_LENGTH),
                framework=self.framework,
                type=event_type,
                name=None if name is None else clip(name, MAX_NAME_LENGTH),
                timestamp=timestamp if timestamp is not None else self.clock.tick(observed),
                parent_id=parent_id if parent_id is not None else self.root_id,
                trace_id=self.trace_id,
                span_id=span_id,
                step_index=step_index,
                content=content,
                attributes=attributes or {},
                tokens_input=tokens_input,
                tokens_output=tokens_output,
                cost=cost,
                duration_ms=duration_ms,
                status=status,
            )
        )
        return event_id

    def start(
        self,
        agent_id: str,
        *,
        task: str | None,
        annotations: dict[str, Any],
        attributes: dict[str, Any] | None = None,
        observed: datetime | None = None,
        timestamp: datetime | None = None,
    ) -> str:
        """The session_start event; ``annotations`` (the ground truth) go to the session's annotations column."""
        self.annotations = annotations
        merged = {**(attributes or {}), semconv.ESCAI_ANNOTATIONS: annotations}
        if task is not None:
            merged[semconv.ESCAI_TASK] = task
        self.root_id = self.add(
            EventType.SESSION_START,
            agent_id,
            content=task,
            attributes=merged,
            observed=observed,
            timestamp=timestamp,
        )
        return self.root_id

    def finish(
        self,
        agent_id: str,
        *,
        success: bool | None,
        score: float | None = None,
        content: str | None = None,
        attributes: dict[str, Any] | None = None,
        observed: datetime | None = None,
        timestamp: datetime | None = None,
    ) -> str:
        """The session_end event, carrying the recorded outcome (None when the data has none)."""
        merged = dict(attributes or {})
        if success is not None:
            merged[semconv.ESCAI_OUTCOME_SUCCESS] = success
        if score is not None:
            merged[semconv.ESCAI_OUTCOME_SCORE] = score
        status = EventStatus.UNSET if success is None else EventStatus.OK if success else EventStatus.ERROR
        return self.add(
            EventType.SESSION_END,
            agent_id,
            content=content,
            attributes=merged,
            status=status,
            observed=observed,
            timestamp=timestamp,
        )

    def build(self, ref: str) -> ImportedRun:
        """The finished run."""
        return ImportedRun(self.session_id, self.events, self.annotations, self.format, ref)


def require(record: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    """``record[key]`` when ``record`` is an object and the value has the expected type; else a clear error."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, found {type(record).__name__}")
    value = record.get(key)
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(item.__name__ for item in kind)
        found = "nothing" if value is None else type(value).__name__
        raise ValueError(f"field {key!r} should be {expected}, found {found}")
    return value


Converter = Callable[[Any, str], ImportedRun]

_RECORD_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError)


def convert_records(source: Source, convert: Converter) -> Iterator[ImportItem]:
    """Run ``convert`` on every record of a file; a record it cannot convert is skipped with the reason."""
    for ref, record in iter_records(source):
        if isinstance(record, SkippedRecord):
            yield record
            continue
        try:
            yield convert(record, ref)
        except _RECORD_ERRORS as error:
            yield SkippedRecord(ref, str(error) or type(error).__name__)
