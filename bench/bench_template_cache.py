"""TemplateCache: hit and miss latency, and hit rate on a realistic generation mix, beside no cache.

The mix: each generated node package renders the six node templates once (pyproject, README, __init__,
contract, node, tests), in that order; a run generates the nodes of the three example PRDs (7 nodes) and the
benchmark repeats runs as a long-lived generator process would. "No cache" reads and compiles each template from
disk on every use, which is what a generator without the cache does.

Run: .venv/bin/python bench/bench_template_cache.py [--runs 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jinja2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine
from escai.codegen.template_cache import TemplateCache

TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "escai" / "codegen" / "templates"
NODE_TEMPLATES = sorted(path.name for path in TEMPLATES.glob("*.j2"))
NODES_PER_RUN = 7


def uncached_get(environment: jinja2.Environment, name: str) -> jinja2.Template:
    """Read and compile the template from disk, as a generator without a cache does on every use."""
    return environment.from_string((TEMPLATES / name).read_text())


def time_calls(call: object, names: list[str]) -> list[float]:
    """Microseconds per call of ``call(name)`` for each name."""
    timings = []
    for name in names:
        started = time.perf_counter()
        call(name)  # type: ignore[operator]
        timings.append((time.perf_counter() - started) * 1e6)
    return timings


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50, help="generation runs of 7 nodes each")
    arguments = parser.parse_args()
    workload = [name for _ in range(arguments.runs * NODES_PER_RUN) for name in NODE_TEMPLATES]

    cache = TemplateCache(TEMPLATES)
    miss_latencies = time_calls(cache.get, NODE_TEMPLATES)  # first use of each template: all misses
    hit_latencies = time_calls(cache.get, workload)
    # The same environment settings and filters as the cache's, so both sides compile identical templates.
    environment = cache.environment
    uncached_latencies = time_calls(lambda name: uncached_get(environment, name), workload)

    small = TemplateCache(TEMPLATES, max_entries=4)  # a cache smaller than the working set of six templates
    time_calls(small.get, workload)
    stats = cache.stats()
    hits, lookups = sum(stat.hits for stat in stats), sum(stat.hits + stat.misses for stat in stats)
    small_stats = small.stats()
    small_hits = sum(stat.hits for stat in small_stats)

    print(f"machine: {machine()}")
    print(f"templates: {len(NODE_TEMPLATES)} ({sum((TEMPLATES / n).stat().st_size for n in NODE_TEMPLATES)} bytes)")
    print(
        f"workload: {arguments.runs} runs x {NODES_PER_RUN} nodes x {len(NODE_TEMPLATES)} templates = {len(workload)}"
    )
    print(f"miss (read + hash + compile): median {statistics.median(miss_latencies):8.1f} us")
    print(f"hit (stat only):              median {statistics.median(hit_latencies):8.1f} us")
    print(f"no cache (read + compile):    median {statistics.median(uncached_latencies):8.1f} us")
    ratio = statistics.median(uncached_latencies) / statistics.median(hit_latencies)
    print(f"speed-up of a hit over no cache: {ratio:.0f}x")
    print(
        f"total get time: cache {sum(miss_latencies + hit_latencies) / 1000:.1f} ms, "
        f"no cache {sum(uncached_latencies) / 1000:.1f} ms"
    )
    print(f"hit rate (cache >= working set): {hits / lookups:.4f} ({hits}/{lookups}), file reads {cache.file_reads}")
    print(
        f"hit rate (max_entries=4 < 6 templates, cyclic LRU): {small_hits / len(workload):.4f}, "
        f"evictions {sum(stat.evictions for stat in small_stats)}"
    )


if __name__ == "__main__":
    main()
