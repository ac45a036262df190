"""End-to-end ingest throughput: events sent over HTTP in batches and counted once stored.

Starts ``escai serve`` as a subprocess (one server process) on embedded SQLite, and on PostgreSQL when
``--postgres-url`` is given; several concurrent clients post pre-serialised batches; the clock stops when every
request has been acknowledged (which ESCAI does only after commit), and the stored count is then checked in the
database. The client shares the machine's cores with the server, so the figure is conservative.

    python bench/bench_ingest.py [--events 200000] [--batch 1000] [--clients 4]
                                 [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg2
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))
from _common import free_port, machine, running_server
from _rawhttp import RawConnection, build_post


def make_payloads(total: int, batch: int) -> list[bytes]:
    """Agent-like events (a mix of kinds, realistic content) serialised ahead of time."""
    kinds = ["llm_request", "llm_response", "tool_call", "tool_result", "thought", "message"]
    now = datetime.now(UTC).isoformat()
    payloads = []
    for start in range(0, total, batch):
        events = []
        for index in range(start, min(start + batch, total)):
            session = f"bench-{index // 200}"
            events.append(
                {
                    "id": uuid.uuid4().hex,
                    "session_id": session,
                    "agent_id": f"agent-{index % 7}",
                    "framework": "langgraph",
                    "type": kinds[index % len(kinds)],
                    "name": "search" if index % 6 in (2, 3) else None,
                    "timestamp": now,
                    "step_index": index % 200,
                    "content": f"step {index}: the agent considers the search results and decides to read "
                    "the second page because the first one did not mention the launch date.",
                    "attributes": {"gen_ai.request.model": "gpt-4o-mini", "iteration": index % 10},
                    "tokens_input": 120,
                    "tokens_output": 40,
                }
            )
        payloads.append(orjson.dumps({"events": events}))
    return payloads


async def post_all(base: str, payloads: list[bytes], clients: int) -> list[float]:
    """Send every payload with ``clients`` concurrent keep-alive connections; return per-request latencies."""
    host, port = base.removeprefix("http://").split(":")
    requests = [build_post("/api/v1/events", payload, f"{host}:{port}") for payload in payloads]
    latencies: list[float] = []

    async def worker() -> None:
        connection = await RawConnection.open(host, int(port))
        try:
            while requests:
                raw = requests.pop()
                started = time.perf_counter()
                status, body = await connection.request(raw)
                if status != 200:
                    raise RuntimeError(f"ingest answered {status}: {body[:300]!r}")
                latencies.append(time.perf_counter() - started)
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


def stored_count_sqlite(path: Path) -> int:
    """Events in an ESCAI SQLite database."""
    import sqlite3

    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT count(*) FROM agent_events").fetchone()[0])


def run_one(label: str, environment: dict[str, str], payloads: list[bytes], clients: int, count) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Measure one configuration; return its figures."""
    port = free_port()
    with (
        tempfile.TemporaryDirectory() as folder,
        running_server({"ESCAI_HOME": folder, **environment}, port, Path(folder) / "server.log"),
    ):
        base = f"http://127.0.0.1:{port}"
        # Warm-up: first requests pay for imports, statement caches and connection set-up.
        asyncio.run(post_all(base, make_payloads(2000, 500), 2))
        before = count(folder)
        events = sum(orjson.loads(payload)["events"].__len__() for payload in payloads)
        started = time.perf_counter()
        latencies = asyncio.run(post_all(base, payloads, clients))
        elapsed = time.perf_counter() - started
        stored = count(folder) - before
    if stored != events:
        raise SystemExit(f"{label}: sent {events} events but {stored} were stored")
    latencies.sort()
    return {
        "events": events,
        "seconds": elapsed,
        "events_per_s": events / elapsed,
        "p50_request_ms": statistics.median(latencies) * 1000,
        "p95_request_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000, help="events per HTTP request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--batch-size", type=int, default=100, help="ESCAI_BATCH_SIZE (events per transaction)")
    parser.add_argument("--postgres-url", help="also measure on this PostgreSQL server (admin database URL)")
    options = parser.parse_args()

    print(f"machine: {machine()}")
    print(
        f"load: {options.events} events in requests of {options.batch}, {options.clients} clients, "
        f"ESCAI_BATCH_SIZE={options.batch_size}"
    )
    payloads = make_payloads(options.events, options.batch)
    # Live epistemic analysis shares the server's cores with ingest; measured both ways (an ingest-only node turns it
    # off with ESCAI_ANALYSIS_LIVE=false; under a flood the analysis worker falls behind and skips, never ingest).
    common = {"ESCAI_BATCH_SIZE": str(options.batch_size), "ESCAI_ANALYSIS_LIVE": "false"}
    results = {
        "sqlite": run_one(
            "sqlite", common, payloads, options.clients, lambda folder: stored_count_sqlite(Path(folder) / "escai.db")
        ),
        "sqlite+live analysis": run_one(
            "sqlite+live analysis",
            {**common, "ESCAI_ANALYSIS_LIVE": "true"},
            payloads,
            options.clients,
            lambda folder: stored_count_sqlite(Path(folder) / "escai.db"),
        ),
    }
    if options.postgres_url:
        admin = make_url(options.postgres_url)
        name = f"escai_bench_{uuid.uuid4().hex[:8]}"

        def admin_sql(statement: str) -> None:
            connection = psycopg2.connect(host=admin.host, port=admin.port, user=admin.username, dbname=admin.database)
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
            connection.close()

        def pg_count(_folder: str) -> int:
            connection = psycopg2.connect(host=admin.host, port=admin.port, user=admin.username, dbname=name)
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM agent_events")
                found = int(cursor.fetchone()[0])
            connection.close()
            return found

        admin_sql(f"CREATE DATABASE {name}")
        try:
            url = admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(False)
            results["postgresql"] = run_one(
                "postgresql", {**common, "ESCAI_DATABASE_URL": url}, payloads, options.clients, pg_count
            )
        finally:
            admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    for engine, figures in results.items():
        print(
            f"{engine:>20}: {figures['events_per_s']:>9,.0f} events/s stored end to end "
            f"({figures['events']:,} events in {figures['seconds']:.2f} s; request p50 "
            f"{figures['p50_request_ms']:.0f} ms, p95 {figures['p95_request_ms']:.0f} ms)"
        )


if __name__ == "__main__":
    main()
