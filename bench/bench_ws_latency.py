"""Live latency: time from POST of an event to its arrival at a WebSocket subscriber, at a steady event rate.

Starts ``escai serve`` (embedded SQLite, default batching: 100 events / 100 ms), connects one subscriber to
``/api/v1/ws?all=1``, and posts events at ``--rate`` events/s in small requests (as SDK exporters do). Each event
carries its send time; the subscriber records arrival minus send time. Prints p50/p95/p99 and the rate achieved.

    python bench/bench_ws_latency.py [--rate 2000] [--seconds 10] [--per-request 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import orjson
import websockets

sys.path.insert(0, str(Path(__file__).parent))
from _common import free_port, machine, running_server


async def measure(base: str, ws_url: str, rate: float, seconds: float, per_request: int) -> tuple[list[float], int]:
    """Send at ``rate`` for ``seconds``; return latencies (s) of delivered events and the number sent."""
    latencies: list[float] = []
    total = int(rate * seconds)
    done = asyncio.Event()

    async with websockets.connect(ws_url, max_size=None) as socket:
        await socket.recv()  # the "subscribed" confirmation

        async def receive() -> None:
            while len(latencies) < total:
                frame = orjson.loads(await socket.recv())
                if frame["type"] == "event.stored":
                    latencies.append(time.time() - frame["data"]["attributes"]["bench.sent_at"])
            done.set()

        receiver = asyncio.create_task(receive())
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=64)) as client:
            interval = per_request / rate
            started = time.perf_counter()
            pending = []
            for index in range(0, total, per_request):
                target = started + (index // per_request) * interval
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                now = time.time()
                events = [
                    {
                        "id": uuid.uuid4().hex,
                        "session_id": f"live-{n % 10}",
                        "agent_id": "agent",
                        "type": "message",
                        "content": "tick",
                        "attributes": {"bench.sent_at": now},
                    }
                    for n in range(index, min(index + per_request, total))
                ]
                pending.append(asyncio.create_task(client.post("/api/v1/events", json=events)))
            responses = await asyncio.gather(*pending)
            assert all(response.status_code == 200 for response in responses)
        try:
            await asyncio.wait_for(done.wait(), timeout=30)
        finally:
            receiver.cancel()
    return latencies, total


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--per-request", type=int, default=20)
    options = parser.parse_args()
    print(f"machine: {machine()}")
    port = free_port()
    with tempfile.TemporaryDirectory() as folder, running_server({"ESCAI_HOME": folder}, port, Path(folder) / "log"):
        latencies, sent = asyncio.run(
            measure(
                f"http://127.0.0.1:{port}",
                f"ws://127.0.0.1:{port}/api/v1/ws?all=1",
                options.rate,
                options.seconds,
                options.per_request,
            )
        )
    latencies.sort()
    ms = [value * 1000 for value in latencies]
    print(f"load: {options.rate:.0f} events/s for {options.seconds:.0f} s in requests of {options.per_request}")
    print(f"delivered {len(ms)}/{sent} events to the WebSocket subscriber")
    print(
        f"POST -> WebSocket latency: p50 {statistics.median(ms):.1f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms, "
        f"p99 {ms[int(len(ms) * 0.99) - 1]:.1f} ms, max {ms[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
