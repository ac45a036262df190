"""Embedded mode: escai.init() without a server stores events through the ingest pipeline in the local database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import escai
from escai.model.events import EventStatus, EventType
from escai.model.records import SessionStatus
from escai.sdk.embedded_exporter import EmbeddedExporter
from escai.sdk.errors import swallow_internal_errors
from escai.store.engine import create_engine
from escai.store.queries import EventFilter, SessionFilter, get_session, list_events, list_sessions


@escai.observe(kind="tool")
def lookup(order: int) -> dict[str, object]:
    """A tool of the test agent."""
    return {"order": order, "status": "shipped", "email": "someone@example.com"}


async def read_back(database_url: str, session_id: str) -> tuple[list[object], object]:
    """The stored events and the session row."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            page = await list_events(connection, EventFilter(session_id=session_id), 1000)
            session = await get_session(connection, session_id)
    finally:
        await engine.dispose()
    return list(page.events), session


async def test_events_reach_the_local_database(database_url: str) -> None:
    """A session with an observed tool is stored whole: tree, task, outcome, and PII masked by the pipeline."""
    recorder = escai.init(database_url=database_url, agent_id="support-bot")
    try:
        assert recorder is not None and isinstance(recorder.exporter, EmbeddedExporter)
        with escai.session("where is order 4411?") as run:
            lookup(4411)
            run.set_outcome(success=True, score=1.0)
        assert escai.flush(30)
    finally:
        escai.shutdown(30)
    events, session = await read_back(database_url, run.id)
    assert [event.type for event in events] == [  # type: ignore[attr-defined]
        EventType.SESSION_START,
        EventType.TOOL_CALL,
        EventType.TOOL_RESULT,
        EventType.SESSION_END,
    ]
    start, call, result, end = events
    assert call.parent_id == start.id and result.parent_id == call.id and end.parent_id == start.id  # type: ignore[attr-defined]
    assert "someone@example.com" not in (result.content or "")  # type: ignore[attr-defined]
    assert end.status is EventStatus.OK  # type: ignore[attr-defined]
    assert session is not None
    assert session.task == "where is order 4411?"  # type: ignore[attr-defined]
    assert session.status is SessionStatus.COMPLETED and session.outcome_score == 1.0  # type: ignore[attr-defined]
    assert session.agent_id == "support-bot"  # type: ignore[attr-defined]


async def test_default_database_is_under_escai_home() -> None:
    """Without a database URL the events go to ESCAI_HOME/escai.db."""
    try:
        escai.init()
        session_id = escai.start_monitoring("agent", task="default store")
        escai.stop_monitoring(session_id, success=True)
        assert escai.flush(30)
    finally:
        escai.shutdown(30)
    database = Path(os.environ["ESCAI_HOME"]) / "escai.db"
    assert database.is_file()
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.connect() as connection:
            page = await list_sessions(connection, SessionFilter())
    finally:
        await engine.dispose()
    assert [(row.id, row.task) for row in page.sessions] == [(session_id, "default store")]


def test_an_unusable_database_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A database that cannot be opened leaves the program running; the failure is logged."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    with swallow_internal_errors():
        try:
            recorder = escai.init(database_url=f"sqlite:///{blocker}/escai.db")
            with escai.session("task"):
                pass
            escai.flush(10)
        finally:
            escai.shutdown(10)
    assert recorder is not None and recorder.lost == 2
    assert "could not start" in caplog.text
