"""Tests for escai.ops.log_rotation: size/time rotation, gzip, retention, crash recovery."""

from __future__ import annotations

import gzip
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from escai.ops.log_rotation import CompressingRotatingFileHandler
from escai.ops.logging import configure_logging, get_logger, reset_logging

T0 = 1_700_000_000.25  # 2023-11-14T22:13:20.25Z


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Leave the logging configuration as other test files expect it."""
    yield
    reset_logging()


class FakeClock:
    """A settable replacement for ``time.time``."""

    def __init__(self, now: float = T0) -> None:
        """Start at ``now``."""
        self.now = now

    def __call__(self) -> float:
        """Return the current fake time."""
        return self.now


@pytest.fixture
def make_handler(tmp_path: Path) -> Iterator[Any]:
    """Build handlers on ``tmp_path/app.log`` attached to logger ``rot``, closing them afterwards."""
    created: list[CompressingRotatingFileHandler] = []
    logger = logging.getLogger("rot")
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def make(**kwargs: Any) -> CompressingRotatingFileHandler:
        handler = CompressingRotatingFileHandler(tmp_path / "app.log", **kwargs)
        # ESCAI events render themselves as JSON through getMessage().
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        created.append(handler)
        return handler

    yield make
    for handler in created:
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def read_gz_lines(path: Path | str) -> list[dict[str, Any]]:
    """Decompress a rotated file and parse each line as JSON."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh.read().splitlines()]


def test_size_rotation_gzips_and_enforces_retention(tmp_path: Path) -> None:
    """Size rotation through configure_logging leaves backup_count .gz files of valid JSON lines."""
    target = tmp_path / "app.log"
    configure_logging(file=target, rotate_bytes=2_000, backup_count=3, stream=None)
    log = get_logger("escai.rot")
    for i in range(200):
        log.info("line", i=i, padding="x" * 100)
    reset_logging()  # closes the handler, which waits for background compression

    rotated = [p.name for p in tmp_path.iterdir() if p.name != "app.log"]
    # Names are <stamp>[.<seq>].gz; order them the way retention does.
    rotated.sort(key=lambda n: (n.split(".")[2], int(n.split(".")[3]) if n.count(".") == 4 else 0))
    assert len(rotated) == 3
    assert all(name.endswith(".gz") for name in rotated)
    kept: list[int] = []
    for name in rotated:
        assert (tmp_path / name).stat().st_size > 0
        events = read_gz_lines(tmp_path / name)
        assert events
        assert all(e["message"] == "line" for e in events)
        assert sum(len(json.dumps(e, separators=(",", ":"))) + 1 for e in events) <= 2_000
        kept.extend(e["i"] for e in events)
    live = [json.loads(line)["i"] for line in target.read_text(encoding="utf-8").splitlines()]
    # Retention dropped the oldest files: what remains is the unbroken tail of the sequence.
    assert kept + live == list(range(200 - len(kept) - len(live), 200))


def test_time_rotation_with_fake_clock(make_handler: Any, tmp_path: Path) -> None:
    """Crossing the time boundary rotates to a UTC-stamped .gz that holds the earlier records."""
    clock = FakeClock()
    handler = make_handler(when="S", interval=1, clock=clock)
    log = get_logger("rot")
    for i in range(3):
        log.info("before", i=i)
    clock.now += 1.5
    log.info("after")
    assert handler.wait_for_compression(timeout=30)

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(clock.now))
    rotated = tmp_path / f"app.log.{stamp}.gz"
    assert [p.name for p in tmp_path.iterdir() if p.name != "app.log"] == [rotated.name]
    assert [e["i"] for e in read_gz_lines(rotated)] == [0, 1, 2]
    live = (tmp_path / "app.log").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["message"] for line in live] == ["after"]
    assert handler.rolloverAt == int(clock.now) + 1


def test_manual_rollovers_in_same_second_get_distinct_names(make_handler: Any, tmp_path: Path) -> None:
    """doRollover twice in one second yields ``<stamp>.gz`` and ``<stamp>.1.gz``, and empty files are skipped."""
    clock = FakeClock()
    handler = make_handler(when="midnight", clock=clock)
    log = get_logger("rot")
    log.info("one")
    handler.doRollover()
    handler.doRollover()  # live file is empty: nothing to rotate
    log.info("two")
    handler.doRollover()
    assert handler.wait_for_compression(timeout=30)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(clock.now))
    names = [os.path.basename(p) for p in handler.rotated_files()]
    assert names == [f"app.log.{stamp}.gz", f"app.log.{stamp}.1.gz"]
    assert [read_gz_lines(tmp_path / n)[0]["message"] for n in names] == ["one", "two"]


def test_retention_keeps_only_the_newest(make_handler: Any) -> None:
    """With backup_count=2 only the two most recent rotations survive."""
    clock = FakeClock()
    handler = make_handler(max_bytes=1_000_000, backup_count=2, clock=clock)
    log = get_logger("rot")
    for i in range(5):
        log.info("gen", i=i)
        handler.doRollover()
        clock.now += 60
    assert handler.wait_for_compression(timeout=30)
    kept = handler.rotated_files()
    assert len(kept) == 2
    assert [read_gz_lines(p)[0]["i"] for p in kept] == [3, 4]


def test_clock_stepping_back_still_names_rotations_in_order(make_handler: Any) -> None:
    """If the clock steps back, the next rotated file still sorts after the existing ones."""
    clock = FakeClock()
    handler = make_handler(max_bytes=1_000_000, backup_count=2, compress=False, clock=clock)
    log = get_logger("rot")
    log.info("first")
    handler.doRollover()
    clock.now -= 3600
    log.info("second")
    handler.doRollover()
    kept = handler.rotated_files()
    assert [json.loads(Path(p).read_text(encoding="utf-8"))["message"] for p in kept] == ["first", "second"]
    assert kept[1].endswith(".1")


def test_uncompressed_rotation_and_plain_retention(make_handler: Any) -> None:
    """compress=False keeps rotated files as plain JSON lines and still applies retention."""
    clock = FakeClock()
    handler = make_handler(max_bytes=1, backup_count=2, compress=False, clock=clock)
    log = get_logger("rot")
    for i in range(4):
        log.info("plain", i=i)  # every write after the first rotates (max_bytes=1)
        clock.now += 1
    kept = handler.rotated_files()
    assert len(kept) == 2
    assert not any(p.endswith(".gz") for p in kept)
    assert [json.loads(Path(p).read_text(encoding="utf-8"))["i"] for p in kept] == [1, 2]


def test_oversized_record_is_written_without_rotation_loop(make_handler: Any, tmp_path: Path) -> None:
    """A record larger than max_bytes goes into an empty file as is instead of rotating forever."""
    handler = make_handler(max_bytes=10)
    get_logger("rot").info("x" * 100)
    assert handler.rotated_files() == []
    assert len((tmp_path / "app.log").read_text(encoding="utf-8")) > 100


def test_leftovers_from_a_crash_are_compressed_on_start(tmp_path: Path, make_handler: Any) -> None:
    """A rotated file left uncompressed (and a partial .gz.tmp) is finished when a handler starts."""
    leftover = tmp_path / "app.log.20240101T000000Z"
    leftover.write_text('{"message":"left"}\n', encoding="utf-8")
    (tmp_path / "app.log.20240101T000001Z.gz.tmp").write_bytes(b"partial")
    (tmp_path / "app.log.20240101T000001Z").write_text('{"message":"also left"}\n', encoding="utf-8")
    handler = make_handler(max_bytes=1000)
    assert handler.wait_for_compression(timeout=30)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["app.log", "app.log.20240101T000000Z.gz", "app.log.20240101T000001Z.gz"]
    assert read_gz_lines(tmp_path / "app.log.20240101T000001Z.gz") == [{"message": "also left"}]


@pytest.mark.skipif(not os.path.exists(os.devnull) or os.name != "posix", reason="needs a POSIX /dev/null")
def test_non_regular_files_are_never_rotated() -> None:
    """Pointing the handler at /dev/null writes normally and never tries to rename it."""
    handler = CompressingRotatingFileHandler(os.devnull, max_bytes=1, when="S", backup_count=1)
    try:
        handler.setFormatter(logging.Formatter("%(message)s"))
        record = logging.makeLogRecord({"msg": "x" * 50, "levelno": logging.INFO})
        handler.handle(record)
        handler.handle(record)
        assert os.path.exists(os.devnull)
    finally:
        handler.close()


def test_invalid_arguments_are_rejected(tmp_path: Path) -> None:
    """Unknown rotation intervals and negative sizes fail at construction time."""
    with pytest.raises(ValueError, match="Invalid rollover interval"):
        CompressingRotatingFileHandler(tmp_path / "a.log", when="fortnight", delay=True)
    with pytest.raises(ValueError, match="max_bytes"):
        CompressingRotatingFileHandler(tmp_path / "a.log", max_bytes=-1, delay=True)
