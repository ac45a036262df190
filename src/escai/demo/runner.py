"""Running the demo: an embedded server in this process, real framework agents instrumented by the SDK.

The agents are LangGraph and AutoGen programs with scripted models (no network, no API keys) plus a plain-Python
agent; ``escai.init`` points the SDK at the embedded server over HTTP, exactly as a user's own agent would.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import uvicorn
from rich.console import Console

from escai.server.app import create_app
from escai.settings import Settings

STARTUP_TIMEOUT_S = 30.0
SETTLE_TIMEOUT_S = 15.0


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


def demo_runs() -> Iterator[tuple[str, str, Callable[[], Any]]]:
    """(label, framework, callable) of every demo run; frameworks are imported here, not at module import."""
    from escai.demo import autogen_agents, langgraph_agents, plain_agents

    for label, run in langgraph_agents.scripts():
        yield label, "langgraph", run
    for label, run in autogen_agents.scripts():
        yield label, "autogen", run
    for label, run in plain_agents.scripts():
        yield label, "python", run


def _run_agents(console: Console | None) -> list[str]:
    """Run every demo agent inside its own ESCAI session; return the session ids."""
    import escai

    escai.instrument_langchain()
    escai.instrument_autogen()
    session_ids = []
    for label, framework, run in demo_runs():
        started = time.perf_counter()
        outcome = "succeeded"
        with escai.session(label, framework=framework, agent_id=f"demo-{framework}") as monitored:
            try:
                run()
                monitored.set_outcome(True, 1.0)
            except RuntimeError as failure:  # the scripted failures; the session records them
                monitored.set_outcome(False, 0.0)
                outcome = f"failed: {failure}"
        session_ids.append(monitored.id)
        if console is not None:
            colour = "green" if outcome == "succeeded" else "red"
            console.print(
                f"  [{colour}]{'✓' if colour == 'green' else '✗'}[/{colour}] {label}: {outcome} "
                f"({time.perf_counter() - started:.1f} s)"
            )
    escai.uninstrument_langchain()
    escai.uninstrument_autogen()
    return session_ids


async def run_demo(settings: Settings, console: Console | None, keep_running: bool = False) -> dict[str, Any]:
    """Start the server, run the instrumented agents live against it, and return a summary of what was stored."""
    import escai

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
        if console is not None:
            console.print(f"ESCAI server on {base}; running agents (events stream to it live):")
        escai.init(base, flush_interval=0.1)
        # The agents are synchronous programs; run them off the loop so the server keeps serving meanwhile.
        session_ids = await asyncio.to_thread(_run_agents, console)
        await asyncio.to_thread(escai.flush, SETTLE_TIMEOUT_S)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            sessions = [await _stored_session(client, session_id) for session_id in session_ids]
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
                    "framework": item["framework"],
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
        await asyncio.to_thread(escai.shutdown)
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving


async def _stored_session(client: httpx.AsyncClient, session_id: str) -> dict[str, Any]:
    """The stored session, waiting briefly until its end event has been written."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        response = await client.get(f"/api/v1/monitoring/sessions/{session_id}")
        finished = response.status_code == 200 and response.json()["status"] != "running"
        if finished or time.monotonic() > deadline:
            response.raise_for_status()
            found: dict[str, Any] = response.json()
            return found
        await asyncio.sleep(0.1)
