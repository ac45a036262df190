"""A thread-safe cache of compiled Jinja2 templates: LRU by count and bytes, TTL, content invalidation, statistics.

A lookup (:meth:`TemplateCache.get`) holds one lock and goes:

1. **cached and fresh** (younger than ``ttl_seconds``): ``os.stat`` the file; if ``(st_mtime_ns, st_size)`` equal
   the values seen at load time, it is a hit and the file is *not* read. If the stat changed, the file is read and
   hashed (SHA-256): same hash means a touch, still a hit (the stat is remembered); a new hash means the content
   changed, so the entry is invalidated and the template recompiled (a miss).
2. **expired** (TTL): evicted and reloaded (a miss).
3. **absent**: read, hashed, compiled (a miss and a load), then entries are evicted least-recently-used first
   until at most ``max_entries`` remain and their sources total at most ``max_bytes``.

Statistics per template (hits, misses, evictions, loads, total load time, hash, size, timestamps) outlive
evictions; :meth:`TemplateCache.persist` adds what changed since the previous flush to ``template_cache_metadata``
through :func:`escai.store.seed_repository.record_template_cache_stats`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.store.seed_repository import TemplateCacheStats, record_template_cache_stats

__all__ = ["TemplateCache", "TemplateCacheStats", "TemplateNotFoundError"]


class TemplateNotFoundError(jinja2.TemplateNotFound):
    """The template file does not exist in the cache's directory (or the name tries to leave it)."""


@dataclass(slots=True)
class _Entry:
    template: jinja2.Template
    sha256: str
    size: int
    stat_key: tuple[int, int]
    loaded_at: float


@dataclass(slots=True)
class _Counters:
    sha256: str = ""
    size: int = 0
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    loads: int = 0
    total_load_ms: float = 0.0
    last_loaded_at: datetime | None = None
    last_accessed_at: datetime | None = None
    persisted: dict[str, float] = field(default_factory=dict)


_COUNTER_NAMES = ("hits", "misses", "evictions", "loads", "total_load_ms")


def _default_now() -> datetime:
    return datetime.now(UTC)


class TemplateCache:
    """Compiled Jinja2 templates from one directory, cached with LRU/TTL/content invalidation; thread-safe."""

    def __init__(
        self,
        directory: Path | str,
        *,
        max_entries: int = 64,
        max_bytes: int = 4 * 1024 * 1024,
        ttl_seconds: float | None = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _default_now,
    ) -> None:
        """Cache templates of ``directory``; ``ttl_seconds=None`` never expires; ``clock``/``now`` for tests."""
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be at least 1")
        self.directory = Path(directory).resolve()
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._counters: dict[str, _Counters] = {}
        self._total_bytes = 0
        self.file_reads = 0
        """How many times a template file was read (a stat-equal hit reads nothing)."""
        # Code generation, not HTML: escaping would corrupt the output, and StrictUndefined turns a missing
        # context value into an error instead of an empty string in generated code.
        self._environment = jinja2.Environment(
            autoescape=False,  # noqa: S701 - generates Python and TOML, never HTML
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        # A string literal valid in Python and TOML alike (JSON escapes, double quotes, no HTML escaping).
        self._environment.filters["py_string"] = lambda value: json.dumps(str(value), ensure_ascii=False)

    @property
    def environment(self) -> jinja2.Environment:
        """The Jinja2 environment templates are compiled in (its settings and the ``py_string`` filter)."""
        return self._environment

    @property
    def total_bytes(self) -> int:
        """The summed source size of the cached templates."""
        return self._total_bytes

    def __len__(self) -> int:
        """How many templates are cached now."""
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is cached now (without touching its recency or statistics)."""
        return name in self._entries

    def get(self, name: str) -> jinja2.Template:
        """The compiled template ``name`` (a path relative to the directory); see the module docstring."""
        path = self._path(name)
        with self._lock:
            counters = self._counters.setdefault(name, _Counters())
            counters.last_accessed_at = self._now()
            entry = self._entries.get(name)
            if entry is not None and self._expired(entry):
                self._evict(name)
                entry = None
            if entry is not None:
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    self._evict(name)
                    raise TemplateNotFoundError(name) from None
                stat_key = (stat.st_mtime_ns, stat.st_size)
                if stat_key == entry.stat_key or self._same_content(path, entry, stat_key):
                    self._entries.move_to_end(name)
                    counters.hits += 1
                    return entry.template
                self._evict(name, count=False)  # content changed: an invalidation, not a capacity eviction
            counters.misses += 1
            return self._load(name, path, counters).template

    def render(self, name: str, **context: Any) -> str:
        """Render template ``name`` with ``context`` (a missing variable is an error)."""
        return self.get(name).render(**context)

    def warm_up(self, names: Iterable[str] | None = None) -> int:
        """Load ``names`` (default: every ``*.j2`` file of the directory) into the cache; return how many."""
        chosen = (
            list(names)
            if names is not None
            else sorted(str(path.relative_to(self.directory)) for path in self.directory.rglob("*.j2"))
        )
        for name in chosen:
            self.get(name)
        return len(chosen)

    def invalidate(self, name: str | None = None) -> None:
        """Drop ``name`` (or every template) from the cache; statistics are kept."""
        with self._lock:
            for cached in [name] if name is not None else list(self._entries):
                if cached in self._entries:
                    self._evict(cached, count=False)

    def stats(self) -> list[TemplateCacheStats]:
        """Cumulative statistics of every template loaded at least once, by name."""
        with self._lock:
            return [
                self._snapshot(name, counters) for name, counters in sorted(self._counters.items()) if counters.sha256
            ]

    async def persist(self, conn: AsyncConnection) -> int:
        """Add the statistics gathered since the previous flush to ``template_cache_metadata``; return rows written.

        Runs in the caller's transaction. The in-memory baseline moves only after every row was sent, so a failed
        flush is repeated in full by the next one.
        """
        with self._lock:
            pending: list[tuple[_Counters, TemplateCacheStats, dict[str, float]]] = []
            for name, counters in sorted(self._counters.items()):
                if not counters.sha256:
                    continue
                current = {key: float(getattr(counters, key)) for key in _COUNTER_NAMES}
                delta = {key: current[key] - counters.persisted.get(key, 0.0) for key in _COUNTER_NAMES}
                if not any(delta.values()):
                    continue
                snapshot = self._snapshot(name, counters)
                increments = dataclasses.replace(
                    snapshot,
                    hits=int(delta["hits"]),
                    misses=int(delta["misses"]),
                    evictions=int(delta["evictions"]),
                    loads=int(delta["loads"]),
                    total_load_ms=delta["total_load_ms"],
                )
                pending.append((counters, increments, current))
        for _, increments, _ in pending:
            await record_template_cache_stats(conn, increments, now=self._now())
        with self._lock:
            for counters, _, current in pending:
                counters.persisted = current
        return len(pending)

    # --- internals (called with the lock held) --------------------------------------------------------------

    def _path(self, name: str) -> Path:
        path = (self.directory / name).resolve()
        if not path.is_relative_to(self.directory):
            raise TemplateNotFoundError(name)
        return path

    def _expired(self, entry: _Entry) -> bool:
        return self.ttl_seconds is not None and self._clock() - entry.loaded_at >= self.ttl_seconds

    def _read(self, path: Path, name: str) -> bytes:
        try:
            source = path.read_bytes()
        except FileNotFoundError:
            raise TemplateNotFoundError(name) from None
        self.file_reads += 1
        return source

    def _same_content(self, path: Path, entry: _Entry, stat_key: tuple[int, int]) -> bool:
        """The stat changed: hash the file; an equal hash (a touch) keeps the entry and remembers the new stat."""
        if hashlib.sha256(self._read(path, str(path))).hexdigest() != entry.sha256:
            return False
        entry.stat_key = stat_key
        return True

    def _load(self, name: str, path: Path, counters: _Counters) -> _Entry:
        started = time.perf_counter()
        stat = path.stat() if path.exists() else None
        source = self._read(path, name)
        template = self._environment.from_string(source.decode("utf-8"))
        template.name = name
        elapsed_ms = (time.perf_counter() - started) * 1000
        sha256 = hashlib.sha256(source).hexdigest()
        stat_key = (stat.st_mtime_ns, stat.st_size) if stat is not None else (0, len(source))
        entry = _Entry(template, sha256, len(source), stat_key, self._clock())
        counters.sha256, counters.size = sha256, len(source)
        counters.loads += 1
        counters.total_load_ms += elapsed_ms
        counters.last_loaded_at = self._now()
        if entry.size <= self.max_bytes:
            self._entries[name] = entry
            self._total_bytes += entry.size
            self._enforce_limits(keep=name)
        return entry

    def _enforce_limits(self, keep: str) -> None:
        while len(self._entries) > self.max_entries or self._total_bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            if oldest == keep:
                break
            self._evict(oldest)

    def _evict(self, name: str, *, count: bool = True) -> None:
        entry = self._entries.pop(name)
        self._total_bytes -= entry.size
        if count:
            self._counters.setdefault(name, _Counters()).evictions += 1

    def _snapshot(self, name: str, counters: _Counters) -> TemplateCacheStats:
        return TemplateCacheStats(
            template_name=name,
            content_sha256=counters.sha256,
            size_bytes=counters.size,
            hits=counters.hits,
            misses=counters.misses,
            evictions=counters.evictions,
            loads=counters.loads,
            total_load_ms=counters.total_load_ms,
            last_loaded_at=counters.last_loaded_at,
            last_accessed_at=counters.last_accessed_at,
        )
