"""Importing files into ESCAI: every run goes through the ingest pipeline (``source="import"``) in batches.

Each file is imported on its own: a file that cannot be read, is not JSON, or is of no known format is reported
with the reason and the next file goes on; a record that cannot be converted is skipped with its reason and the
rest of its file goes on. Reading and converting run in a worker thread while the previous batch is written, so
parsing and storage overlap. The summary counts files, sessions, runs, events (read, stored, already stored,
refused by the pipeline) and lists everything skipped with its reason.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from escai.ingest.importers import (
    AUTO,
    ImporterError,
    SkippedRecord,
    Source,
    UnrecognisedFormatError,
    detect_format,
    get_importer,
)
from escai.ingest.pipeline import IngestResult
from escai.model.events import AgentEvent
from escai.ops.logging import get_logger
from escai.service import EscaiService
from escai.settings import Settings

logger = get_logger("escai.ingest.importers", component="import")

DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".traj", ".gz")
"""Files taken from a directory (files named explicitly are always tried)."""
DEFAULT_BATCH_EVENTS = 2000
IN_FLIGHT_BATCHES = 4
"""Batches submitted and not yet committed, at most (bounds memory; lets reading overlap writing)."""
INGEST_SOURCE = "import"


class Ingestor(Protocol):
    """What the runner needs from the ingest pipeline (:class:`escai.ingest.pipeline.IngestPipeline`)."""

    async def ingest(self, raw_events: Sequence[Any], source: str = "api") -> IngestResult:
        """Validate, transform and store events; return after they are committed."""
        ...


@dataclass(slots=True)
class FileReport:
    """What happened to one file."""

    path: str
    format: str | None = None
    runs: int = 0
    events: int = 0
    """Events read from the file."""
    stored: int = 0
    duplicates: int = 0
    """Events already stored (the same file imported before): acknowledged, not stored twice."""
    rejected: int = 0
    """Events the ingest pipeline refused (they are in the dead-letter table with the reason)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Records that were not imported: (where in the file, why)."""
    rejections: Counter[str] = field(default_factory=Counter)
    """Why events were refused, with how many."""
    error: str | None = None
    """Why the file could not be imported (or not to the end)."""
    unrecognised: bool = False
    """The file was skipped because auto-detection found no known format."""

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "path": self.path,
            "format": self.format,
            "runs": self.runs,
            "events": self.events,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "skipped": [{"where": where, "reason": reason} for where, reason in self.skipped],
            "rejections": dict(self.rejections),
            "error": self.error,
            "unrecognised": self.unrecognised,
        }


@dataclass(slots=True)
class ImportSummary:
    """What an import did, file by file and in total."""

    files: list[FileReport] = field(default_factory=list)
    sessions: int = 0
    """Distinct sessions imported."""
    seconds: float = 0.0

    @property
    def runs(self) -> int:
        """Runs read from all files."""
        return sum(report.runs for report in self.files)

    @property
    def events(self) -> int:
        """Events read from all files."""
        return sum(report.events for report in self.files)

    @property
    def stored(self) -> int:
        """Events newly stored."""
        return sum(report.stored for report in self.files)

    @property
    def failed(self) -> list[FileReport]:
        """Files that could not be imported (or not to the end), each with its error."""
        return [report for report in self.files if report.error is not None and not report.unrecognised]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """Everything not imported, as (where, why): unrecognised files, skipped records, refused events."""
        found: list[tuple[str, str]] = []
        for report in self.files:
            if report.unrecognised:
                found.append((report.path, report.error or "unrecognised"))
            found.extend((f"{report.path}: {where}", reason) for where, reason in report.skipped)
            found.extend(
                (f"{report.path}: {count} events", f"refused: {reason}") for reason, count in report.rejections.items()
            )
        return found

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values."""
        return {
            "files": len(self.files),
            "failed_files": len(self.failed),
            "sessions": self.sessions,
            "runs": self.runs,
            "events": self.events,
            "stored": self.stored,
            "duplicates": sum(report.duplicates for report in self.files),
            "rejected": sum(report.rejected for report in self.files),
            "seconds": round(self.seconds, 3),
            "skipped": [{"where": where, "reason": reason} for where, reason in self.skipped],
            "per_file": [report.as_dict() for report in self.files],
        }


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """Where an import stands, reported after each batch and file."""

    path: Path
    file_number: int
    file_count: int
    bytes_done: int
    """Bytes of all files read so far (compressed size for gzip files)."""
    bytes_total: int
    runs: int
    events: int


ProgressCallback = Callable[[ImportProgress], None]


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files to import: each named file, and the data files under each named directory (sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    item
                    for item in path.rglob("*")
                    if item.is_file() and not item.name.startswith(".") and item.name.endswith(DATA_SUFFIXES)
                )
            )
        else:
            found.append(path)
    return found


class _Batches:
    """Reads one file's runs and hands out their events in batches of about ``size`` (whole runs)."""

    def __init__(self, items: Iterator[Any], size: int, report: FileReport, sessions: set[str]) -> None:
        self._items = items
        self._size = size
        self._report = report
        self._sessions = sessions

    def next_batch(self) -> list[AgentEvent] | None:
        batch: list[AgentEvent] = []
        for item in self._items:
            if isinstance(item, SkippedRecord):
                self._report.skipped.append((item.ref, item.reason))
                continue
            self._report.runs += 1
            self._report.events += len(item.events)
            self._sessions.add(item.session_id)
            batch.extend(item.events)
            if len(batch) >= self._size:
                return batch
        return batch or None


class _Writer:
    """Submits batches to the pipeline without waiting for each commit, up to ``limit`` events in flight.

    Several small files then share one storage transaction instead of each waiting for the batcher's timeout;
    the batcher writes submissions in order, so a session's events are stored in the order they were read.
    """

    def __init__(self, pipeline: Ingestor, limit: int) -> None:
        self._pipeline = pipeline
        self._limit = limit
        self._in_flight: deque[tuple[asyncio.Task[None], int]] = deque()
        self._events = 0

    async def submit(self, batch: list[AgentEvent], report: FileReport) -> None:
        self._in_flight.append((asyncio.create_task(self._store(batch, report)), len(batch)))
        self._events += len(batch)
        while self._events > self._limit:
            await self._oldest()

    async def drain(self) -> None:
        while self._in_flight:
            await self._oldest()

    async def _oldest(self) -> None:
        task, size = self._in_flight.popleft()
        self._events -= size
        await task

    async def _store(self, batch: list[AgentEvent], report: FileReport) -> None:
        try:
            result = await self._pipeline.ingest(batch, source=INGEST_SOURCE)
        except Exception as error:
            logger.warning("storing imported events failed", path=report.path, error=repr(error))
            report.error = f"storing failed: {type(error).__name__}: {error}"
            return
        report.stored += result.accepted
        report.duplicates += result.duplicates
        report.rejected += len(result.rejected)
        report.rejections.update(rejection.reason for rejection in result.rejected)


async def _import_file(
    writer: _Writer,
    path: Path,
    format_name: str,
    batch_events: int,
    report: FileReport,
    sessions: set[str],
    on_batch: Callable[[Source], None],
) -> None:
    source = Source(path)
    try:
        name = detect_format(source) if format_name == AUTO else format_name
    except UnrecognisedFormatError as error:
        report.error, report.unrecognised = str(error), True
        return
    report.format = name
    batches = _Batches(get_importer(name).read(source), batch_events, report, sessions)
    while True:
        # Parsing runs in a worker thread so that the event loop keeps writing earlier batches meanwhile.
        batch = await asyncio.to_thread(batches.next_batch)
        on_batch(source)
        if batch is None:
            return
        await writer.submit(batch, report)


async def import_files(
    pipeline: Ingestor,
    paths: Sequence[Path],
    format_name: str = AUTO,
    *,
    batch_events: int = DEFAULT_BATCH_EVENTS,
    progress: ProgressCallback | None = None,
) -> ImportSummary:
    """Import files (directories are expanded) through ``pipeline``; one bad file never stops the others."""
    if format_name != AUTO:
        get_importer(format_name)  # an unknown format name is the caller's error, not one per file
    started = time.perf_counter()
    files = expand_paths(paths)
    sizes = [path.stat().st_size if path.is_file() else 0 for path in files]
    summary = ImportSummary()
    writer = _Writer(pipeline, IN_FLIGHT_BATCHES * batch_events)
    sessions: set[str] = set()
    done_before = 0
    for number, (path, size) in enumerate(zip(files, sizes, strict=True), start=1):
        report = FileReport(str(path))
        summary.files.append(report)

        def on_batch(source: Source, path: Path = path, number: int = number, before: int = done_before) -> None:
            if progress is not None:
                done = before + min(source.consumed, source.size)
                progress(ImportProgress(path, number, len(files), done, sum(sizes), summary.runs, summary.events))

        try:
            if not path.is_file():
                raise ImporterError("no such file" if not path.exists() else "not a regular file")
            await _import_file(writer, path, format_name, batch_events, report, sessions, on_batch)
        except ImporterError as error:
            report.error = str(error)
        except Exception as error:
            # Isolation: whatever went wrong with this file is reported, and the next file is imported.
            logger.warning("import of a file failed", path=str(path), error=repr(error))
            report.error = f"{type(error).__name__}: {error}"
        done_before += size
        if progress is not None:
            progress(ImportProgress(path, number, len(files), done_before, sum(sizes), summary.runs, summary.events))
    await writer.drain()
    summary.sessions = len(sessions)
    summary.seconds = time.perf_counter() - started
    return summary


async def run_import(
    settings: Settings,
    paths: Sequence[Path],
    format_name: str = AUTO,
    *,
    batch_events: int = DEFAULT_BATCH_EVENTS,
    progress: ProgressCallback | None = None,
) -> ImportSummary:
    """Start an :class:`~escai.service.EscaiService` on ``settings`` (migrating its database), import, stop."""
    service = EscaiService(settings)
    await service.start()
    try:
        return await import_files(service.pipeline, paths, format_name, batch_events=batch_events, progress=progress)
    finally:
        await service.stop()
