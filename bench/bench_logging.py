"""Per-call cost of ESCAI's JSON logger compared with stdlib ``logging``.

Run: ``python bench/bench_logging.py [--n 50000] [--repeat 7]``.

Every variant writes to the same sink, an ``os.devnull`` text stream, so the
numbers are the cost of building and formatting a line plus one ``write``,
not disk speed.  Each variant runs ``--n`` calls per repetition; the script
prints the median over ``--repeat`` repetitions in microseconds per call.

Variants:

* ``escai json``: ``get_logger().info(msg, key=value)`` after
  ``configure_logging(fmt="json")``;
* ``escai json + context``: the same inside ``log_context`` with three fields;
* ``stdlib plain``: ``logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")``;
* ``stdlib json-ish``: a ``Formatter`` whose ``format`` is ``json.dumps`` of a dict;
* ``... filtered debug``: a ``debug`` call below the INFO threshold.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import IO

from escai.ops.logging import configure_logging, get_logger, log_context, reset_logging


class _JsonishFormatter(logging.Formatter):
    """What a hand-rolled stdlib JSON setup typically looks like."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a JSON object via ``json.dumps``."""
        return json.dumps(
            {
                "timestamp": self.formatTime(record),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
                "request": getattr(record, "request", None),
            }
        )


def _stdlib_logger(name: str, sink: IO[str], formatter: logging.Formatter) -> logging.Logger:
    """A non-propagating stdlib logger with one StreamHandler on ``sink``."""
    logger = logging.getLogger(name)
    logger.handlers.clear()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def _measure(call: Callable[[], None], n: int, repeat: int) -> float:
    """Median microseconds per call over ``repeat`` runs of ``n`` calls."""
    for _ in range(min(n, 1000)):  # warm caches (timestamp cache, method lookups)
        call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(n):
            call()
        samples.append((time.perf_counter_ns() - start) / n / 1000)
    return statistics.median(samples)


def main() -> None:
    """Run every variant and print a table plus ESCAI/stdlib ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="calls per repetition")
    parser.add_argument("--repeat", type=int, default=7, help="repetitions (median is reported)")
    args = parser.parse_args()

    print(f"machine: {platform.platform()} | {platform.machine()} | cpus={os.cpu_count()}")
    print(f"python:  {platform.python_implementation()} {sys.version.split()[0]}")
    print(f"calls:   {args.n} per repetition, median of {args.repeat}")
    print()

    with open(os.devnull, "w", encoding="utf-8") as sink:
        configure_logging(level="INFO", fmt="json", stream=sink)
        escai = get_logger("bench.escai", component="bench")
        plain = _stdlib_logger("bench.plain", sink, logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        jsonish = _stdlib_logger("bench.jsonish", sink, _JsonishFormatter())

        def escai_info() -> None:
            escai.info("request handled", request=42)

        def escai_debug() -> None:
            escai.debug("request handled", request=42)

        def plain_info() -> None:
            plain.info("request handled %d", 42)

        def plain_debug() -> None:
            plain.debug("request handled %d", 42)

        def jsonish_info() -> None:
            jsonish.info("request handled", extra={"request": 42})

        def jsonish_debug() -> None:
            jsonish.debug("request handled", extra={"request": 42})

        results: dict[str, float] = {}
        try:
            results["escai json"] = _measure(escai_info, args.n, args.repeat)
            with log_context(correlation_id="c0ffee", session_id="s-1", agent="planner"):
                results["escai json + context"] = _measure(escai_info, args.n, args.repeat)
            results["stdlib plain"] = _measure(plain_info, args.n, args.repeat)
            results["stdlib json-ish"] = _measure(jsonish_info, args.n, args.repeat)
            results["escai filtered debug"] = _measure(escai_debug, args.n, args.repeat)
            results["stdlib plain filtered debug"] = _measure(plain_debug, args.n, args.repeat)
            results["stdlib json-ish filtered debug"] = _measure(jsonish_debug, args.n, args.repeat)
        finally:
            reset_logging()

    width = max(len(k) for k in results)
    print(f"{'variant':<{width}}  us/call")
    for name, value in results.items():
        print(f"{name:<{width}}  {value:7.3f}")
    print()
    print(f"ratio escai json / stdlib plain:       {results['escai json'] / results['stdlib plain']:.2f}x")
    print(f"ratio escai json / stdlib json-ish:    {results['escai json'] / results['stdlib json-ish']:.2f}x")
    filtered_ratio = results["escai filtered debug"] / results["stdlib plain filtered debug"]
    print(f"ratio escai filtered / stdlib filtered: {filtered_ratio:.2f}x")


if __name__ == "__main__":
    main()
