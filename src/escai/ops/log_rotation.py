"""Size- and/or time-based log file rotation with background gzip compression.

The standard library offers size rotation (``RotatingFileHandler``) and time
rotation (``TimedRotatingFileHandler``) but not both at once, formats every
record twice when rotating by size, compresses (if asked to via ``rotator``)
while holding the handler lock, and its retention scan for custom names has
changed in almost every 3.x release.  :class:`CompressingRotatingFileHandler`
keeps the stdlib machinery (``BaseRotatingHandler.rotate`` with ``namer`` and
``rotator``, ``computeRollover`` for the time schedule) and replaces only those
parts.

Naming scheme
    The live file is ``<file>``.  A rotated file is named after the UTC instant
    of the rotation (the same convention as logrotate's ``dateext``)::

        app.log.20250101T000000Z.gz        # first rotation in that second
        app.log.20250101T000000Z.1.gz      # second rotation in the same second

    Fixed-width stamps plus the numeric suffix give a total order that the
    retention code parses instead of relying on file modification times.

Compression
    Under the handler lock the live file is only *renamed* (cheap), then a
    short-lived thread gzips it to ``<name>.gz.tmp`` and atomically renames that
    to ``<name>.gz``.  Logging calls, including those on an asyncio event loop,
    are therefore never blocked for the seconds it can take to compress a
    large file.  ``close()`` waits for pending compressions; files left
    uncompressed by a crash are compressed when the next handler for the same
    path starts.

Retention
    After each rotation only the newest ``backup_count`` rotated files are
    kept (compressed or not); ``backup_count <= 0`` keeps everything, as in
    ``TimedRotatingFileHandler``.

One process per file: like the stdlib handlers this is not safe for several
processes writing (and rotating) the same path.  Give each process its own file
or log to a stream and let the collector handle it.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import logging.handlers
import os
import re
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable

__all__ = ["CompressingRotatingFileHandler"]

_GZ = ".gz"
_TMP = ".tmp"
# gzip level 6 is zlib's default trade-off; log text compresses ~10x at it and
# level 9 costs roughly twice the CPU for a few percent.
_GZIP_LEVEL = 6


class CompressingRotatingFileHandler(logging.handlers.TimedRotatingFileHandler):
    """File handler that rotates by size and/or time and gzips rotated files.

    It subclasses ``TimedRotatingFileHandler`` only to reuse its validated
    ``when``/``interval`` parsing and ``computeRollover``; rotation, naming and
    retention are implemented here (see the module docstring).
    """

    def __init__(
        self,
        filename: str | os.PathLike[str],
        *,
        max_bytes: int = 0,
        when: str | None = None,
        interval: int = 1,
        backup_count: int = 7,
        compress: bool = True,
        utc: bool = True,
        encoding: str = "utf-8",
        delay: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open ``filename`` for appending and set up the rotation schedule.

        ``max_bytes`` (0 disables) rotates before a write would make the file
        larger than that; ``when``/``interval`` take the values of
        ``TimedRotatingFileHandler`` ("S", "M", "H", "D", "midnight", "W0"-"W6")
        and ``None`` disables time rotation.  ``clock`` exists so tests can
        drive time rotation without sleeping.
        """
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        if interval < 1:
            raise ValueError(f"interval must be >= 1, got {interval}")
        self._clock = clock
        self._size = 0
        self._rotatable = True
        self._time_based = when is not None
        self._compress = compress
        self._workers: list[threading.Thread] = []
        self._workers_lock = threading.Lock()
        # Retention and crash recovery both list and delete files; serialise them
        # so two compression threads finishing together don't race on unlink.
        self._maintenance_lock = threading.Lock()
        try:
            st = os.stat(filename)
            existing_mtime: float | None = st.st_mtime if st.st_size > 0 else None
        except OSError:
            existing_mtime = None
        # The parent computes a schedule from the wall clock; ours is recomputed
        # below from the injected clock, so the value it picks does not matter.
        super().__init__(
            filename,
            when=when or "midnight",
            interval=interval,
            backupCount=backup_count,
            encoding=encoding,
            delay=delay,
            utc=utc,
        )
        self.maxBytes = max_bytes
        base = os.path.basename(self.baseFilename)
        self._rotated_re = re.compile(
            rf"^{re.escape(base)}\.(\d{{8}}T\d{{6}}Z?)(?:\.(\d+))?((?:{re.escape(_GZ)})?(?:{re.escape(_TMP)})?)$"
        )
        if compress:
            self.namer = _gz_namer
            self.rotator = self._rename_then_compress
        if self._time_based:
            # Like the stdlib, start the schedule from a pre-existing file's mtime
            # so a file left over from yesterday rotates on the first write today.
            start = self._clock()
            if existing_mtime is not None:
                start = min(start, existing_mtime)
            self.rolloverAt = self._next_rollover(start)
        else:
            # sys.maxsize rather than math.inf: the attribute is an int in the stdlib.
            self.rolloverAt = sys.maxsize
        if compress:
            self._recover_uncompressed()

    # -- stdlib hooks ------------------------------------------------------------------

    def _open(self) -> io.TextIOWrapper:
        """Open the live file and remember its size and whether it may be rotated."""
        stream = super()._open()
        try:
            st = os.fstat(stream.fileno())
            self._size = st.st_size
            # bpo-45401: never rotate /dev/null, a FIFO or a terminal.
            self._rotatable = stat.S_ISREG(st.st_mode)
        except OSError:
            self._size = 0
            self._rotatable = False
        return stream

    def shouldRollover(self, record: logging.LogRecord) -> int:
        """Return whether writing ``record`` now would trigger a rotation."""
        line = self.format(record) + self.terminator
        return self._should_rotate(_byte_len(line, self.encoding))

    def emit(self, record: logging.LogRecord) -> None:
        """Format once, rotate if needed, then append the line.

        The stdlib size handler formats each record twice (once to measure it);
        formatting is the most expensive part of a JSON log call.
        """
        try:
            line = self.format(record) + self.terminator
            size = _byte_len(line, self.encoding)
            if self.stream is None:  # delay=True: the file is opened on first use
                self.stream = self._open()
            if self._should_rotate(size):
                self.doRollover()
            stream = self.stream
            if stream is None:  # delay=True leaves the new file unopened after a rotation
                stream = self.stream = self._open()
            stream.write(line)
            stream.flush()
            self._size += size
        except RecursionError:  # the stdlib re-raises these too, to avoid masking them
            raise
        except Exception:
            self.handleError(record)

    def doRollover(self) -> None:
        """Rotate the live file now (no-op for an empty file) and apply retention."""
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        now = self._clock()
        if self._time_based:
            self.rolloverAt = self._next_rollover(now)
        try:
            rotated = os.path.getsize(self.baseFilename) > 0
        except OSError:  # nothing to rotate if the file vanished
            rotated = False
        if rotated:
            self.rotate(self.baseFilename, self.rotation_filename(self._free_name(now)))
        if not self.delay:
            self.stream = self._open()
        else:
            self._size = 0
        if rotated and not self._compress:
            # With compression, retention runs once the .gz is complete instead.
            self._apply_retention()

    def close(self) -> None:
        """Close the file and wait for background compression to finish."""
        super().close()
        self.wait_for_compression()

    # -- public helpers ------------------------------------------------------------------

    def wait_for_compression(self, timeout: float | None = None) -> bool:
        """Block until pending compressions finish; return False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._workers_lock:
                self._workers = [t for t in self._workers if t.is_alive()]
                pending = list(self._workers)
            if not pending:
                return True
            for worker in pending:
                if deadline is None:
                    worker.join()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                worker.join(remaining)

    def rotated_files(self) -> list[str]:
        """Return paths of rotated files (compressed or pending), oldest first."""
        return [path for _key, paths in self._rotated_groups() for path in paths if not path.endswith(_TMP)]

    # -- internals -------------------------------------------------------------------------

    def _should_rotate(self, incoming: int) -> bool:
        """Whether to rotate before writing ``incoming`` more bytes."""
        if not self._rotatable:
            return False
        if self._clock() >= self.rolloverAt:
            return True
        # An empty file is never rotated, so a single record larger than
        # max_bytes is written rather than looping on rotations.
        return self.maxBytes > 0 and self._size > 0 and self._size + incoming > self.maxBytes

    def _next_rollover(self, now: float) -> int:
        """The first scheduled rotation time strictly after ``now``."""
        current = int(now)
        result = self.computeRollover(current)
        while result <= now:
            result += self.interval
        # Same DST correction as TimedRotatingFileHandler.doRollover: midnight in
        # local time moves by an hour across a DST switch.
        if not self.utc and (self.when == "MIDNIGHT" or self.when.startswith("W")):
            dst_now = time.localtime(current)[-1]
            dst_then = time.localtime(result)[-1]
            if dst_now != dst_then:
                result += 3600 if dst_now else -3600
        return result

    def _free_name(self, now: float) -> str:
        """Pick the rotated name for a rotation at ``now`` (pre-namer form).

        Names must sort after every existing rotated file, or retention would
        delete the newest file: the sequence number continues after the
        highest one on disk (retention may have freed lower ones), and a stamp
        older than the newest on disk (the clock stepped back) is replaced by it.
        """
        if self.utc:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        else:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now))
        seq = 0
        groups = self._rotated_groups()
        if groups:
            newest_stamp, newest_seq = groups[-1][0]
            if stamp <= newest_stamp:
                stamp, seq = newest_stamp, newest_seq + 1
        return f"{self.baseFilename}.{stamp}" + (f".{seq}" if seq else "")

    def _rename_then_compress(self, source: str, dest: str) -> None:
        """``rotator``: rename under the lock, gzip in a background thread."""
        plain = dest[: -len(_GZ)] if dest.endswith(_GZ) else dest
        os.replace(source, plain)
        self._start_compression(plain, dest)

    def _start_compression(self, plain: str, dest: str) -> None:
        """Compress ``plain`` into ``dest`` on a background thread."""
        worker = threading.Thread(
            target=self._compress_and_prune,
            args=(plain, dest),
            name="escai-log-compress",
            # Non-daemon: interpreter shutdown waits for the .gz instead of
            # leaving a half-written .tmp behind.
            daemon=False,
        )
        with self._workers_lock:
            self._workers.append(worker)
        worker.start()

    def _compress_and_prune(self, plain: str, dest: str) -> None:
        """Background job: gzip one rotated file, then apply retention."""
        try:
            _gzip_file(plain, dest)
        except FileNotFoundError:
            # Retention from a concurrent rotation already deleted this file.
            pass
        except OSError as exc:
            # A background thread has no caller to raise to, and logging the
            # failure through logging could recurse into this handler.
            _report(f"could not compress {plain!r}: {exc!r}")
        try:
            self._apply_retention()
        except OSError as exc:
            _report(f"could not apply retention for {self.baseFilename!r}: {exc!r}")

    def _rotated_groups(self) -> list[tuple[tuple[str, int], list[str]]]:
        """Rotated files grouped by rotation (stamp, sequence), oldest first."""
        directory = os.path.dirname(self.baseFilename)
        groups: dict[tuple[str, int], list[str]] = {}
        try:
            names = os.listdir(directory)
        except OSError:
            return []
        for name in names:
            match = self._rotated_re.match(name)
            if match is None:
                continue
            key = (match.group(1), int(match.group(2) or 0))
            groups.setdefault(key, []).append(os.path.join(directory, name))
        return sorted(groups.items())

    def _apply_retention(self) -> None:
        """Delete all but the newest ``backupCount`` rotated files."""
        if self.backupCount <= 0:
            return
        with self._maintenance_lock:
            groups = self._rotated_groups()
            for _key, paths in groups[: max(0, len(groups) - self.backupCount)]:
                for path in paths:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(path)

    def _recover_uncompressed(self) -> None:
        """Finish compressions that a previous process did not complete."""
        with self._maintenance_lock:
            for _key, paths in self._rotated_groups():
                plain = [p for p in paths if not p.endswith((_GZ, _TMP))]
                done = [p for p in paths if p.endswith(_GZ)]
                for tmp in (p for p in paths if p.endswith(_TMP)):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(tmp)
                for path in plain:
                    if done:  # the .gz was renamed into place; only the unlink was lost
                        with contextlib.suppress(FileNotFoundError):
                            os.remove(path)
                    else:
                        self._start_compression(path, path + _GZ)


def _gz_namer(default_name: str) -> str:
    """``namer``: rotated files carry a .gz suffix."""
    return default_name + _GZ


def _gzip_file(plain: str, dest: str) -> None:
    """Compress ``plain`` into ``dest`` atomically, then delete ``plain``."""
    tmp = dest + _TMP
    with open(plain, "rb") as src, gzip.open(tmp, "wb", compresslevel=_GZIP_LEVEL) as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
    os.replace(tmp, dest)
    os.remove(plain)


def _byte_len(text: str, encoding: str | None) -> int:
    # Log lines are nearly always ASCII, where len() is exact and avoids an encode.
    if text.isascii():
        return len(text)
    return len(text.encode(encoding or "utf-8", errors="replace"))


def _report(message: str) -> None:
    # stderr may already be closed during interpreter shutdown.
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"escai.ops.log_rotation: {message}\n")
