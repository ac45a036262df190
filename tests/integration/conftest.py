"""Fixtures for tests that run the ESCAI app against a real database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from escai.server.app import create_app
from escai.settings import Settings


def make_settings(database_url: str, home: Path, **overrides: Any) -> Settings:
    """Settings for a test app on ``database_url`` with small, fast batches."""
    values: dict[str, Any] = {"database_url": database_url, "home": home, "batch_timeout_ms": 5.0}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for an app on the parametrised database (SQLite, then PostgreSQL)."""
    return make_settings(database_url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of a running app (lifespan started: migrations, batcher, bus)."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def event(session_id: str = "s-1", agent_id: str = "agent-1", **fields: Any) -> dict[str, Any]:
    """A valid event as JSON, with overrides."""
    body: dict[str, Any] = {"session_id": session_id, "agent_id": agent_id, "type": "message", "content": "hi"}
    body.update(fields)
    return body
