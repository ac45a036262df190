"""Live epistemic analysis: stored events update states that are stored and pushed to WebSocket subscribers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from tests.integration.conftest import make_settings
from tests.unit.test_epistemic_tracker import fixing_session

from escai.analysis.epistemic.extractor import extract_timeline
from escai.bus.base import ChangeKind
from escai.model.records import RevisionKind
from escai.server.app import create_app
from escai.service import EscaiService
from escai.store.epistemic_store import load_timeline
from escai.store.knowledge_store import load_knowledge_graph


async def test_ingested_events_produce_the_same_states_as_batch_extraction(database_url: str, tmp_path: Path) -> None:
    """Events sent one batch at a time end as stored states equal to batch extraction's, revisions included."""
    script = fixing_session()
    service = EscaiService(make_settings(database_url, tmp_path))
    await service.start()
    results = service.bus.subscribe(lambda change: change.kind is ChangeKind.ANALYSIS_RESULT)
    try:
        for event in script.events:
            await service.pipeline.ingest([event], source="test")
        published: list[Any] = []
        async with asyncio.timeout(10):
            async for change in results:
                published.append(change.payload)
                if change.payload["event_id"] == script.events[-1].id:
                    break
    finally:
        await service.stop()
    expected = extract_timeline(script.events)
    assert [payload["state"]["event_id"] for payload in published] == [state.event_id for state in expected.states]
    assert published[-1]["analysis"] == "epistemic"

    service = EscaiService(make_settings(database_url, tmp_path), migrate=False)
    await service.start()
    try:
        async with service.engine.connect() as connection:
            stored = await load_timeline(connection, script.session_id)
            graph = await load_knowledge_graph(connection, script.session_id)
    finally:
        await service.stop()
    assert [state.event_id for state in stored.states] == [state.event_id for state in expected.states]
    assert [state.confidence for state in stored.states] == [state.confidence for state in expected.states]
    assert {revision.kind for revision in stored.revisions} >= {RevisionKind.WEAKENED, RevisionKind.REAFFIRMED}
    assert len(stored.revisions) == len(expected.revisions)
    assert len(graph) == len(expected.facts)


def test_websocket_subscribers_receive_analysis_results(database_url: str, tmp_path: Path) -> None:
    """A client watching a session gets an ``analysis.result`` frame with the agent's state after each step."""
    script = fixing_session()
    client = TestClient(create_app(make_settings(database_url, tmp_path)))
    with client, client.websocket_connect(f"/api/v1/ws?session_id={script.session_id}") as websocket:
        websocket.receive_json()
        body = [event.model_dump(mode="json") for event in script.events[:4]]
        assert client.post("/api/v1/events", json=body).status_code == 200
        frames: list[dict[str, Any]] = []
        while len(frames) < 3:
            frame = websocket.receive_json()
            if frame["type"] == "analysis.result":
                frames.append(frame)
    states = [frame["data"]["state"] for frame in frames]
    assert [state["event_id"] for state in states] == ["e0", "e1", "e2"]
    assert states[1]["beliefs"][0]["statement"].startswith("The bug is caused by the timezone offset")
    assert all(frame["agent_id"] == "coder" and 0 <= frame["data"]["state"]["confidence"] <= 1 for frame in frames)


def test_live_analysis_can_be_switched_off(database_url: str, tmp_path: Path) -> None:
    """With ``analysis_live`` off no worker runs and nothing is analysed."""
    settings = make_settings(database_url, tmp_path, analysis_live=False)
    with TestClient(create_app(settings)) as client:
        assert client.app.state.service.analysis is None  # type: ignore[attr-defined]
