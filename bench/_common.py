"""Shared helpers of the benchmark scripts: machine description and a server started as a subprocess."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

DATASETS = Path(os.environ.get("ESCAI_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
"""The shared real traces (``../shared/datasets`` from the repository root, or ``$ESCAI_DATASETS``)."""


def machine() -> str:
    """One line describing where the benchmark ran."""
    cpu = "unknown cpu"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}){memory}, "
        f"Python {platform.python_version()}"
    )


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(environment: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``escai serve`` on ``port`` with extra environment; wait until ready; stop it afterwards."""
    env = {**os.environ, "ESCAI_LOG_LEVEL": "WARNING", **environment}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "escai.cli.main", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}", process)
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Poll /ready until the server answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before it was ready")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not become ready")
