"""The spool: request bodies kept on disk until the server has acknowledged them.

Each file, ``<time_ns>-<pid>-<seq>.batch``, holds one body: either a request body that could not be delivered
(gzip JSON, as POSTed to ``/api/v1/events``) or events that never reached the network, in the compact record form
of :mod:`escai.sdk.wire` (plain JSON: writing it must cost the agent as little as possible; it is compressed
when it is finally sent). The exporter removes a file once the server has acknowledged it; the next process that
reaches the server replays what is left. Event ids make a batch sent twice harmless: the server stores each id
once.

The folder is bounded: a write that would take the files this process knows about over ``max_bytes`` is refused
(the exporter then counts the batch lost), so a long outage cannot fill the disk. Files of another process are
adopted for replay only when that process has exited (or the file is over an hour old), so two live processes
never send each other's batches in parallel.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from pathlib import Path

_logger = logging.getLogger("escai.sdk")

SUFFIX = ".batch"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
ORPHAN_AGE_S = 3600.0
"""A file older than this is replayed even if the process that wrote it seems alive (its pid was reused)."""


def default_spool_dir() -> Path:
    """``$ESCAI_HOME/spool`` (``~/.escai/spool`` by default)."""
    home = os.environ.get("ESCAI_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".escai") / "spool"


def _process_alive(pid: int) -> bool:
    if os.name != "posix":
        # os.kill(pid, 0) would send CTRL_C_EVENT on Windows; rely on the file age there.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


class Spool:
    """A bounded folder of request bodies; thread-safe."""

    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._sizes: dict[Path, int] = {}
        self._bytes = 0
        self._sequence = itertools.count()
        self._warned_full = False
        self._ready = False
        self._created_ns = time.time_ns()

    @property
    def size(self) -> int:
        """Bytes in the files this process wrote or adopted and has not removed yet."""
        return self._bytes

    def _prepare(self) -> bool:
        if not self._ready:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                _logger.warning("escai: cannot create the spool folder %s: %s", self.directory, error)
                return False
            self._ready = True
        return True

    def write(self, body: bytes) -> Path | None:
        """Keep ``body`` in a new file; None when the spool is full or the folder is not writable."""
        with self._lock:
            if self._bytes + len(body) > self.max_bytes:
                if not self._warned_full:
                    self._warned_full = True
                    _logger.warning(
                        "escai: the spool %s is full (%d bytes); further batches are lost until it drains",
                        self.directory,
                        self.max_bytes,
                    )
                return None
            self._bytes += len(body)
        if not self._prepare():
            with self._lock:
                self._bytes -= len(body)
            return None
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._sequence):06d}{SUFFIX}"
        path = self.directory / name
        temporary = path.with_name(name + ".tmp")
        try:
            # Write then rename, so a reader never sees half a file.
            temporary.write_bytes(body)
            temporary.replace(path)
        except OSError as error:
            with self._lock:
                self._bytes -= len(body)
            _logger.warning("escai: cannot write to the spool %s: %s", self.directory, error)
            with contextlib.suppress(OSError):
                temporary.unlink()
            return None
        with self._lock:
            self._sizes[path] = len(body)
            self._warned_full = False
        return path

    def read(self, path: Path) -> bytes | None:
        """The body kept in ``path``; None if the file is gone (another process replayed it)."""
        try:
            return path.read_bytes()
        except OSError:
            self.forget(path)
            return None

    def remove(self, path: Path) -> None:
        """Delete a file whose batch the server has acknowledged."""
        with contextlib.suppress(OSError):
            path.unlink()
        self.forget(path)

    def forget(self, path: Path) -> None:
        """Stop counting ``path`` against the size bound."""
        with self._lock:
            self._bytes -= self._sizes.pop(path, 0)

    def files(self) -> list[Path]:
        """Every spool file in the folder (of any process), oldest first."""
        try:
            return sorted(self.directory.glob(f"*{SUFFIX}"))
        except OSError:
            return []

    def orphans(self) -> list[Path]:
        """Files left by processes that have exited (or are over an hour old), oldest first; they are adopted.

        Adopted files count against the size bound from now on.
        """
        candidates = self.files()
        now = time.time()
        adopted: list[Path] = []
        for path in candidates:
            parts = path.name.split("-")
            try:
                written_ns, pid = int(parts[0]), int(parts[1])
                stat = path.stat()
            except (IndexError, ValueError, OSError):
                continue
            if pid == os.getpid():
                # Same pid: ours, unless written before this spool existed (a previous run in a container,
                # where every run is pid 1).
                if written_ns >= self._created_ns:
                    continue
            elif _process_alive(pid) and now - stat.st_mtime < ORPHAN_AGE_S:
                continue
            with self._lock:
                if path not in self._sizes:
                    self._sizes[path] = stat.st_size
                    self._bytes += stat.st_size
                    adopted.append(path)
        return adopted
