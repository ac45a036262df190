"""Crash safety: every event acknowledged to a client survives ``kill -9`` of the server.

Starts ``escai serve`` (embedded SQLite by default, or ``--database-url``), has several clients post batches as
fast as they can while recording the ids of every acknowledged (HTTP 200) event, sends SIGKILL to the server
mid-stream, restarts it on the same database, and checks that each acknowledged id is stored. Repeats
``--rounds`` times. Exits non-zero if any acknowledged event is missing.

    python bench/crash_safety.py [--rounds 3] [--seconds 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _common import free_port, machine, wait_ready


def start_server(environment: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start ``escai serve`` and wait until it is ready."""
    env = {**os.environ, "ESCAI_LOG_LEVEL": "WARNING", **environment}
    process = subprocess.Popen(
        [sys.executable, "-m", "escai.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    wait_ready(f"http://127.0.0.1:{port}", process)
    return process


async def hammer(base: str, seconds: float, clients: int, acknowledged: list[str]) -> int:
    """Post batches until ``seconds`` pass or the server dies; return how many requests failed."""
    failed = 0
    deadline = time.monotonic() + seconds

    async def client_loop(client_index: int) -> None:
        nonlocal failed
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            while time.monotonic() < deadline:
                ids = [uuid.uuid4().hex for _ in range(200)]
                events = [
                    {
                        "id": event_id,
                        "session_id": f"crash-{client_index}",
                        "agent_id": "a",
                        "type": "message",
                        "content": "x" * 200,
                    }
                    for event_id in ids
                ]
                try:
                    response = await client.post("/api/v1/events", json=events)
                except httpx.HTTPError:
                    failed += 1
                    await asyncio.sleep(0.05)
                    continue
                if response.status_code == 200:
                    acknowledged.extend(ids)

    await asyncio.gather(*(client_loop(index) for index in range(clients)))
    return failed


async def stored_ids(base: str, session_count: int) -> set[str]:
    """Every stored event id of the crash sessions, read through the API."""
    found: set[str] = set()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for index in range(session_count):
            cursor = None
            while True:
                params: dict[str, object] = {"session_id": f"crash-{index}", "limit": 1000}
                if cursor is not None:
                    params["cursor"] = cursor
                page = (await client.get("/api/v1/events", params=params)).json()
                found.update(event["id"] for event in page["events"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
    return found


def main() -> None:
    """Run the rounds and print what survived."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="ingest time before the kill")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database-url", help="default: embedded SQLite in a temporary folder")
    options = parser.parse_args()
    print(f"machine: {machine()}")
    missing_total = 0
    with tempfile.TemporaryDirectory() as folder:
        environment = {"ESCAI_HOME": folder}
        if options.database_url:
            environment["ESCAI_DATABASE_URL"] = options.database_url
        log = Path(folder) / "server.log"
        acknowledged: list[str] = []
        for round_index in range(options.rounds):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            server = start_server(environment, port, log)

            async def ingest_then_kill(process: subprocess.Popen[bytes] = server, url: str = base) -> int:
                async def killer() -> None:
                    await asyncio.sleep(options.seconds)
                    process.send_signal(signal.SIGKILL)

                kill = asyncio.create_task(killer())
                failed = await hammer(url, options.seconds + 1.0, options.clients, acknowledged)
                await kill
                return failed

            before = len(acknowledged)
            failed = asyncio.run(ingest_then_kill())
            server.wait()
            print(
                f"round {round_index + 1}: {len(acknowledged) - before} events acknowledged before kill -9, "
                f"{failed} requests cut off by the kill"
            )
        port = free_port()
        server = start_server(environment, port, log)
        try:
            stored = asyncio.run(stored_ids(f"http://127.0.0.1:{port}", options.clients))
        finally:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=30)
        missing = [event_id for event_id in acknowledged if event_id not in stored]
        missing_total = len(missing)
        print(
            f"after restart: {len(acknowledged)} acknowledged, {len(stored)} stored, {missing_total} acknowledged "
            f"events missing, {len(set(acknowledged))} unique acknowledged ids"
        )
    sys.exit(1 if missing_total else 0)


if __name__ == "__main__":
    main()
