"""Running the demo: an embedded server in this process, real framework agents instrumented by the SDK.

The agents are LangGraph and AutoGen programs with scripted models (no network, no API keys) plus a plain-Python
agent; ``escai.init`` points the SDK at the embedded server over HTTP, exactly as a user's own agent would. When
they have run, every session is analysed through the same server (``POST /api/v1/sessions/{id}/analyze``), and the
summary carries what that found: final confidence, beliefs and revisions, the task goal's status, the behaviour
explanation's first sentence and, for a failed session, the top failure attribution candidate.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn
from rich.console import Console

from escai.model.records import ClaimType
from escai.server.app import create_app
from escai.settings import Settings

STARTUP_TIMEOUT_S = 30.0
SETTLE_TIMEOUT_S = 15.0
ANALYSIS_METHOD = "light"
"""Sentence similarity of the demo's analyses: the light method needs no model download and keeps the demo fast."""


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
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            sessions = [await _stored_session(client, session_id) for session_id in session_ids]
            if console is not None:
                console.print("analysing the sessions (beliefs, goals, explanations, failure attribution) ...")
            analyses = [await analyse_demo_session(client, item) for item in sessions]
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
                    **analysis,
                }
                for item, analysis in zip(sessions, analyses, strict=True)
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
        response = await client.get(f"/api/v1/monitoring/sessions/{quote(session_id, safe='/')}")
        finished = response.status_code == 200 and response.json()["status"] != "running"
        if finished or time.monotonic() > deadline:
            response.raise_for_status()
            found: dict[str, Any] = response.json()
            return found
        await asyncio.sleep(0.1)


def first_sentence(explanations: list[dict[str, Any]], kind: str) -> str | None:
    """The first sentence of the explanation of ``kind`` (``behaviour``, ``failure``) that says more than the task
    (a demo session's task is its label, shown already), or None when there is none."""
    for explanation in explanations:
        if explanation["kind"] != kind:
            continue
        sentences = explanation.get("sentences") or []
        telling = [sentence for sentence in sentences if sentence["claim"] != ClaimType.TASK.value] or sentences
        text: str = telling[0]["text"] if telling else explanation["text"]
        return text
    return None


def summarise_analysis(analysis: dict[str, Any], attribution: dict[str, Any] | None) -> dict[str, Any]:
    """The summary fields of one analysis response: the last agent state's confidence, the final beliefs and the
    revisions, the task goal's status, the behaviour explanation's first sentence and the top attribution candidate."""
    finals = list(analysis["final_states"].values())
    # The agent that spoke last has the session's final word; its state has the highest step index.
    last = max(finals, key=lambda state: state["step_index"], default=None)
    task_goals = [goal for state in finals for goal in state["goals"] if goal.get("source") == "task"]
    candidates = [] if attribution is None else attribution["candidates"]
    top = candidates[0] if candidates else None
    return {
        "final_confidence": None if last is None else last["confidence"],
        "beliefs": sum(len(state["beliefs"]) for state in finals),
        "revisions": analysis["revisions"],
        "task_goal": task_goals[0]["status"] if task_goals else None,
        "behaviour": first_sentence(analysis["explanations"], "behaviour"),
        "attribution": None
        if top is None
        else {"agent": top["agent_id"], "step": top["step_index"], "confidence": top["confidence"]},
    }


async def analyse_demo_session(client: httpx.AsyncClient, session: dict[str, Any]) -> dict[str, Any]:
    """Analyse one stored session through the server and summarise the result (see :func:`summarise_analysis`);
    a failed session's attribution is taken from the analysis, or else from the stored attributions."""
    path = f"/api/v1/sessions/{quote(session['id'], safe='/')}"
    response = await client.post(f"{path}/analyze", params={"method": ANALYSIS_METHOD})
    response.raise_for_status()
    analysis: dict[str, Any] = response.json()
    attribution: dict[str, Any] | None = None
    if session["status"] == "failed" or session.get("outcome_success") is False:
        attribution = analysis.get("attribution")
        if attribution is None:
            # Servers whose analysis response leaves the attribution out still store it: read the newest.
            stored = await client.get(f"{path}/attribution", params={"limit": 1})
            stored.raise_for_status()
            attribution = next(iter(stored.json()), None)
    return summarise_analysis(analysis, attribution)
