"""An instrumented agent whose server is down, or answers slowly, against the same agent uninstrumented.

The agent is a CPU-bound loop of small steps (build a prompt, rank a small corpus against it, hash it, round-trip
some JSON, keep a history; about 200 us of CPU per step on the reference machine), each emitting an
``llm_request`` and an ``llm_response``, and every other step a ``tool_call``: 2.5 events per step, with
realistic content sizes. It runs three ways, alternating, several times:

- ``uninstrumented``: no recorder; the emit calls are skipped;
- ``server down``: ``escai.init`` pointing at a loopback port where nothing listens (connection refused);
- ``slow server``: ``escai.init`` pointing at a tiny HTTP server started by this script in a subprocess that
  sleeps 2 s before answering each request.

A fourth configuration, ``capture only``, records with an exporter that discards everything: the cost of capturing
itself, which any server state adds to. The wall time of the agent loop is what is compared (median and best of the
runs), with the CPU time of the whole process (all threads); the time ``escai.shutdown`` then takes is printed
separately (bounded by ``shutdown_timeout``), with what the spool holds afterwards.

Run: ``.venv/bin/python bench/bench_slow_server.py [--steps N] [--runs R]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import escai
from _common import free_port, machine
from escai.model.events import EventType
from escai.sdk.http_exporter import HttpExporter
from escai.sdk.recorder import Recorder
from escai.sdk.wire import Batch

WORDS = [
    *("plan", "search", "read", "observe", "answer", "verify", "the", "agent", "tool", "result", "document"),
    *("query", "context", "retrieve", "summary", "goal", "memory", "index", "cache", "retry", "timeout"),
    *("response", "model", "prompt", "completion", "function", "arguments", "schema"),
]

SLOW_SERVER = textwrap.dedent(
    """
    import http.server, sys, time

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            time.sleep(2.0)
            body = b'{"accepted": 0, "duplicates": 0, "filtered": 0, "rejected": []}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Slow)
    print("ready", flush=True)
    server.serve_forever()
    """
)


DOCUMENTS = [frozenset(WORDS[(index * 5 + k) % len(WORDS)] + str(k % 7) for k in range(40)) for index in range(320)]
"""The corpus each step ranks: its size sets the work per step (about 200 us of CPU here)."""


def agent(steps: int, recorder: Recorder | None) -> float:
    """Run the agent loop; return its wall time in seconds."""
    history: list[str] = []
    started = time.perf_counter()
    for step in range(steps):
        prompt = f"Step {step}: " + " ".join(WORDS[(step * 7 + k) % len(WORDS)] for k in range(48))
        # "Retrieval": score a small corpus against the prompt's words, keep the best three documents.
        terms = {word + str(position % 7) for position, word in enumerate(prompt.split()[2:])}
        ranked = sorted(DOCUMENTS, key=lambda document: len(document & terms), reverse=True)[:3]
        prompt += " | context: " + " ".join(sorted(ranked[0])[:12])
        request = None
        if recorder is not None:
            request = recorder.emit(
                EventType.LLM_REQUEST, prompt, name="gpt-4o-mini", attributes={"gen_ai.request.model": "gpt-4o-mini"}
            )
        digest = hashlib.sha256(prompt.encode()).hexdigest()
        state = json.loads(json.dumps({"prompt": prompt, "digest": digest, "history": history[-8:]}))
        history.append(state["digest"][:12])
        answer = " ".join(sorted(state["prompt"].split()[:24], key=len))
        if recorder is not None:
            recorder.emit(
                EventType.LLM_RESPONSE, answer, name="gpt-4o-mini", parent_id=request, tokens_input=96, tokens_output=24
            )
            if step % 2 == 0:
                recorder.emit(EventType.TOOL_CALL, f'{{"query": "{history[-1]}"}}', name="web_search")
    return time.perf_counter() - started


@contextmanager
def slow_server() -> Iterator[str]:
    """A local HTTP server (subprocess) that sleeps 2 s per request; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_SERVER, str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


class DiscardingExporter:
    """Takes every batch and forgets it: the capture cost alone, with no server at all."""

    def export(self, batch: Batch) -> None:
        """Forget the batch."""

    def shutdown(self, timeout: float) -> None:
        """Nothing to release."""


PICKS: dict[str, Callable[[Iterable[float]], float]] = {"median": statistics.median, "best": min}


@dataclass
class Run:
    """One run of the agent loop: wall and CPU seconds (all threads of this process)."""

    wall: float
    cpu: float


def timed_agent(steps: int, recorder: Recorder | None) -> Run:
    """Run the agent loop and measure it."""
    cpu = time.process_time()
    wall = agent(steps, recorder)
    return Run(wall, time.process_time() - cpu)


def instrumented(steps: int, endpoint: str | None, spool: Path) -> tuple[Run, str]:
    """One instrumented run (no endpoint: capture only) and what happened to the events."""
    exporter = None if endpoint else DiscardingExporter()
    recorder = escai.init(endpoint, spool_dir=spool, agent_id="bench-agent", exporter=exporter)
    assert recorder is not None
    run = timed_agent(steps, recorder)
    started = time.perf_counter()
    escai.shutdown()
    closing = time.perf_counter() - started
    note = f"shutdown took {closing:.2f} s; dropped {recorder.dropped}"
    if isinstance(recorder.exporter, HttpExporter):
        files = list(spool.glob("*.batch"))
        note += (
            f"; {recorder.exporter.requests} requests; spool: {len(files)} files, "
            f"{sum(path.stat().st_size for path in files) / 1024:.0f} KiB; lost {recorder.exporter.lost_events}"
        )
    return run, note


def main() -> None:
    """Alternate the configurations and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    os.environ.pop("ESCAI_ENDPOINT", None)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    print(f"agent: {arguments.steps} steps, 2.5 events per step; {arguments.runs} runs of each configuration")
    agent(1000, None)  # warm up
    runs: dict[str, list[Run]] = {"uninstrumented": [], "capture only": [], "server down": [], "slow server": []}
    notes: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as folder, slow_server() as slow_url:
        endpoints = {"capture only": None, "server down": f"http://127.0.0.1:{free_port()}", "slow server": slow_url}
        for index in range(arguments.runs):
            runs["uninstrumented"].append(timed_agent(arguments.steps, None))
            for label, url in endpoints.items():
                spool = Path(folder) / f"{label.replace(' ', '-')}-{index}"
                run, notes[label] = instrumented(arguments.steps, url, spool)
                runs[label].append(run)
    # The median is the headline; the best run is shown too because load from other processes on a shared
    # machine only ever adds time, so the fastest run of each configuration is the least disturbed one.
    base = {name: pick(run.wall for run in runs["uninstrumented"]) for name, pick in PICKS.items()}
    base_cpu = statistics.median(run.cpu for run in runs["uninstrumented"])
    for label, measured in runs.items():
        walls = {name: pick(run.wall for run in measured) for name, pick in PICKS.items()}
        cpu = statistics.median(run.cpu for run in measured)
        line = f"{label:15s} wall median {walls['median']:5.2f} s, best {walls['best']:5.2f} s; cpu {cpu:5.2f} s"
        if label != "uninstrumented":
            changes = [f"{name} {100 * (walls[name] / base[name] - 1):+5.1f} %" for name in PICKS]
            line += f"   slowdown: wall {', '.join(changes)}; cpu {100 * (cpu / base_cpu - 1):+5.1f} %"
        print(line)
        if label in notes:
            print(f"{'':15s} last run: {notes[label]}")


if __name__ == "__main__":
    main()
