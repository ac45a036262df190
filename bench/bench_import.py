"""Import throughput: the 250-run mini-swe-agent SWE-bench file into a fresh SQLite database.

Runs the real import path (``escai.ingest.importers.runner.run_import``: detection, conversion, the ingest
pipeline with its default stages including PII masking, the batcher and bulk writes) in this process, and reports
runs/s and events/s end to end, from starting the service (which migrates the new database) until the last batch
is committed. Where the time goes is shown by two more figures: a parse-only pass (reading and converting, no
storage) and an import with PII masking turned off. The data file is read from
``../shared/datasets`` relative to the repository root.

    python bench/bench_import.py [--repeat 1] [--file PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine
from escai.ingest.importers import SkippedRecord, read_runs
from escai.ingest.importers.runner import run_import
from escai.settings import Settings

DEFAULT_FILE = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "datasets"
    / "mini_swe_agent_swebench_verified"
    / "trajectories.jsonl.gz"
)


def parse_only(path: Path) -> tuple[int, int, float]:
    """Runs and events converted from the file, and the seconds it took, without storing anything."""
    started = time.perf_counter()
    runs = events = 0
    for item in read_runs(path):
        if not isinstance(item, SkippedRecord):
            runs += 1
            events += len(item.events)
    return runs, events, time.perf_counter() - started


def import_once(path: Path, folder: Path, *, pii_masking: bool) -> tuple[int, int, int, float]:
    """One import into a fresh database: runs, events read, events stored (counted in the database), seconds."""
    database = folder / "escai.db"
    settings = Settings(home=folder, database_url=f"sqlite+aiosqlite:///{database}", pii_masking=pii_masking)
    started = time.perf_counter()
    summary = asyncio.run(run_import(settings, [path]))
    seconds = time.perf_counter() - started
    if summary.failed or summary.skipped:
        raise SystemExit(f"import reported problems: {summary.as_dict()['skipped']} {summary.failed}")
    with sqlite3.connect(database) as connection:
        stored = connection.execute("SELECT count(*) FROM agent_events").fetchone()[0]
    return summary.runs, summary.events, int(stored), seconds


def main() -> None:
    """Parse the options, time parsing alone, then time whole imports."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeat", type=int, default=1, help="Imports to time (each into a fresh database).")
    options = parser.parse_args()
    if not options.file.is_file():
        raise SystemExit(f"data file not found: {options.file} (the shared data sets are not installed)")
    print(f"machine: {machine()}")
    print(f"file: {options.file} ({options.file.stat().st_size / 1e6:.1f} MB)")
    runs, events, seconds = parse_only(options.file)
    print(f"parse only: {runs} runs, {events} events in {seconds:.2f} s = {runs / seconds:.0f} runs/s, "
          f"{events / seconds:.0f} events/s")  # fmt: skip
    for attempt in range(1, options.repeat + 1):
        for pii_masking in (True, False):
            # The database sits in /tmp: the disk the embedded store would use, not a RAM-only shortcut.
            with tempfile.TemporaryDirectory(prefix="escai-bench-import-") as folder:
                runs, events, stored, seconds = import_once(options.file, Path(folder), pii_masking=pii_masking)
            assert stored == events, (stored, events)
            label = "default settings" if pii_masking else "PII masking off"
            print(f"import {attempt} ({label}): {runs} runs, {events} events stored in {seconds:.2f} s "
                  f"= {runs / seconds:.1f} runs/s, {events / seconds:.0f} events/s")  # fmt: skip


if __name__ == "__main__":
    main()
