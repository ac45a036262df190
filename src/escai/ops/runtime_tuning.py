"""Interpreter settings for a long-running ingest server: garbage collector and GIL switch interval.

Ingest allocates many short-lived containers per event. With CPython's default thresholds (700, 10, 10) the
cyclic collector runs every few hundred allocations, and each full collection walks every object the process has,
including the large, permanent graph of imported modules (FastAPI, SQLAlchemy, pydantic schemas). Freezing that
graph after start-up and collecting less often removes that work; reference counting still frees almost every
ingest object at once, so memory does not grow (the pattern popularised by Instagram's Django servers).
"""

from __future__ import annotations

import gc
import sys

# Young-generation threshold: collect after this many net allocations instead of 700.
YOUNG_THRESHOLD = 50_000


# How long a thread may hold the GIL before another waiting thread gets it (CPython's default is 5 ms). The
# database driver runs in its own thread and needs the GIL briefly between statements; with the event loop busy it
# would otherwise wait up to 5 ms each time.
SWITCH_INTERVAL_S = 0.001


def tune_runtime_for_ingest() -> None:
    """Move everything alive now out of the collector's sight, raise the collection threshold, and shorten the
    GIL switch interval so the database thread is not starved by the event loop."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
