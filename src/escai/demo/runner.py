"""Running the demo: an embedded server in this process, scripted agents posting to it over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.progress import Progress

from escai.demo.scripted_agents import demo_runs
from escai.server.app import create_app
from escai.settings import Settings

STARTUP_TIMEOUT_S = 30.0


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


async def run_demo(settings: Settings, console: Console | None, keep_running: bool = False) -> dict[str, Any]:
    """Start the server, replay the scripted runs live, and return a summary of what was stored."""
    port = settings.port if settings.port and _port_is_free(settings.host, settings.port) else _free_port(settings.host)
    settings = settings.model_copy(update={"port": port})
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=settings.host, port=port, log_config=None, access_log=False)
    )
    serving = asyncio.create_task(server.serve())
    base = f"http://{settings.host}:{port}"
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while not server.started:
                if serving.done():
                    serving.result()  # surface the startup error
                await asyncio.sleep(0.05)
        runs = list(demo_runs())
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            with Progress(console=console, disable=console is None, transient=True) as progress:
                task = progress.add_task("running agents", total=sum(len(events) for _, events in runs))
                for label, events in runs:
                    progress.update(task, description=label)
                    for event in events:  # one by one, so the dashboard and WebSocket show them arriving
                        response = await client.post("/api/v1/events", json=[event.model_dump(mode="json")])
                        response.raise_for_status()
                        progress.advance(task)
                        await asyncio.sleep(0.01)
            session_ids = [events[0].session_id for _, events in runs]
            sessions = [(await client.get(f"/api/v1/monitoring/sessions/{sid}")).json() for sid in session_ids]
        summary: dict[str, Any] = {
            "api": base,
            "database": settings.resolved_database_url.split("@")[-1],
            "sessions": [
                {
                    "id": item["id"],
                    "agents": item["agent_ids"],
                    "events": item["event_count"],
                    "status": item["status"],
                    "task": item["task"],
                }
                for item in sessions
            ],
        }
        if keep_running:
            if console is not None:
                console.print(f"Server running on {base} (Ctrl-C to stop)")
            with contextlib.suppress(asyncio.CancelledError):
                await serving
        return summary
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
