"""TemplateCache: LRU by count and bytes, TTL, content invalidation, thread safety, warm-up, persisted statistics."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from escai.codegen.template_cache import TemplateCache, TemplateNotFoundError
from escai.store.engine import create_engine
from escai.store.seed_repository import list_template_cache_efficiency


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write_template(directory: Path, name: str, text: str) -> Path:
    """Write one template file and return its path."""
    path = directory / name
    path.write_text(text)
    return path


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A directory with three small templates."""
    for name, text in {"a.j2": "A={{ value }}", "b.j2": "B={{ value }}", "c.j2": "C={{ value }}"}.items():
        write_template(tmp_path, name, text)
    return tmp_path


def stats_by_name(cache: TemplateCache) -> dict[str, tuple[int, int, int, int]]:
    """(hits, misses, evictions, loads) per template."""
    return {stat.template_name: (stat.hits, stat.misses, stat.evictions, stat.loads) for stat in cache.stats()}


def test_a_stat_equal_hit_does_not_read_the_file(templates: Path) -> None:
    """The second get of an unchanged file is a hit that only stats the file: the read counter stays at one."""
    cache = TemplateCache(templates)
    assert cache.render("a.j2", value=1) == "A=1"
    assert cache.render("a.j2", value=2) == "A=2"
    assert cache.file_reads == 1
    assert stats_by_name(cache)["a.j2"] == (1, 1, 0, 1)


def test_changed_content_is_reloaded_and_a_touch_is_not(templates: Path) -> None:
    """A new SHA-256 recompiles the template; a changed mtime with the same bytes is rehashed but stays a hit."""
    cache = TemplateCache(templates)
    path = templates / "a.j2"
    cache.get("a.j2")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000))
    assert cache.render("a.j2", value=1) == "A=1"
    assert stats_by_name(cache)["a.j2"] == (1, 1, 0, 1)  # a touch: re-read and hashed, not recompiled
    assert cache.file_reads == 2
    path.write_text("changed {{ value }}")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    assert cache.render("a.j2", value=1) == "changed 1"
    assert stats_by_name(cache)["a.j2"] == (1, 2, 0, 2)


def test_lru_eviction_by_count_drops_the_least_recently_used(templates: Path) -> None:
    """With room for two, using a, b, a, then c evicts b (the least recently used), not a."""
    cache = TemplateCache(templates, max_entries=2)
    for name in ("a.j2", "b.j2", "a.j2", "c.j2"):
        cache.get(name)
    assert "a.j2" in cache
    assert "b.j2" not in cache
    assert "c.j2" in cache
    assert stats_by_name(cache)["b.j2"][2] == 1


def test_lru_eviction_by_bytes_keeps_the_total_under_the_limit(tmp_path: Path) -> None:
    """Templates of 40 bytes in a 100-byte cache: the third load evicts the oldest and the total stays <= 100."""
    for name in ("x.j2", "y.j2", "z.j2"):
        write_template(tmp_path, name, name[0] * 40)
    cache = TemplateCache(tmp_path, max_bytes=100)
    for name in ("x.j2", "y.j2", "z.j2"):
        cache.get(name)
    assert cache.total_bytes == 80
    assert "x.j2" not in cache
    assert len(cache) == 2


def test_a_template_larger_than_the_byte_limit_is_served_but_not_kept(tmp_path: Path) -> None:
    """A 200-byte template in a 100-byte cache renders but is not cached, so the limit holds."""
    write_template(tmp_path, "big.j2", "b" * 200)
    cache = TemplateCache(tmp_path, max_bytes=100)
    assert cache.render("big.j2") == "b" * 200
    assert len(cache) == 0


def test_ttl_expiry_reloads_after_the_deadline(templates: Path) -> None:
    """Before the TTL a get is a hit; at the TTL the entry is evicted and loaded again."""
    clock = FakeClock()
    cache = TemplateCache(templates, ttl_seconds=60, clock=clock)
    cache.get("a.j2")
    clock.now += 59
    cache.get("a.j2")
    clock.now += 1
    cache.get("a.j2")
    assert stats_by_name(cache)["a.j2"] == (1, 2, 1, 2)


def test_concurrent_gets_from_many_threads_are_consistent(templates: Path) -> None:
    """Eight threads doing 300 gets each over three templates in a two-entry cache: no error, every call counted."""
    cache = TemplateCache(templates, max_entries=2)
    errors: list[BaseException] = []
    names = ("a.j2", "b.j2", "c.j2")

    def work(offset: int) -> None:
        try:
            for index in range(300):
                name = names[(index + offset) % 3]
                assert cache.render(name, value=index) == f"{name[0].upper()}={index}"
        except BaseException as exc:  # collected and re-raised by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stats = cache.stats()
    assert sum(stat.hits + stat.misses for stat in stats) == 8 * 300
    assert sum(stat.loads for stat in stats) == sum(stat.misses for stat in stats)
    assert len(cache) <= 2


def test_warm_up_loads_every_template_once(templates: Path) -> None:
    """warm_up() loads all *.j2 files; later gets are hits."""
    cache = TemplateCache(templates)
    assert cache.warm_up() == 3
    cache.get("b.j2")
    assert stats_by_name(cache)["b.j2"] == (1, 1, 0, 1)


def test_unknown_and_escaping_names_are_refused(templates: Path) -> None:
    """A missing file and a path outside the directory both raise TemplateNotFoundError."""
    cache = TemplateCache(templates)
    with pytest.raises(TemplateNotFoundError):
        cache.get("missing.j2")
    with pytest.raises(TemplateNotFoundError):
        cache.get("../outside.j2")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated test database."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def test_persist_adds_only_what_changed_since_the_last_flush(templates: Path, engine: AsyncEngine) -> None:
    """Two flushes store the running totals once each (increments, not repeats) in template_cache_metadata."""
    cache = TemplateCache(templates, max_entries=1)
    for name in ("a.j2", "a.j2", "b.j2"):
        cache.get(name)
    async with engine.begin() as conn:
        assert await cache.persist(conn) == 2
    cache.get("b.j2")
    async with engine.begin() as conn:
        assert await cache.persist(conn) == 1  # only b.j2 changed
        assert await cache.persist(conn) == 0
    async with engine.connect() as conn:
        rows = {row.template_name: row for row in await list_template_cache_efficiency(conn)}
    assert (rows["a.j2"].hits, rows["a.j2"].misses, rows["a.j2"].evictions, rows["a.j2"].loads) == (1, 1, 1, 1)
    assert (rows["b.j2"].hits, rows["b.j2"].misses, rows["b.j2"].loads) == (1, 1, 1)
    assert rows["a.j2"].hit_rate == pytest.approx(0.5)
    assert rows["a.j2"].size_bytes == len("A={{ value }}")
