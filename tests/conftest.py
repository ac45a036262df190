"""Fixtures shared by all tests: databases on both engines, settings, isolated ESCAI home folders.

Storage tests take the ``database_url`` fixture and so run twice: on embedded SQLite and on the PostgreSQL
server named by ``ESCAI_TEST_POSTGRES_URL`` (skipped, and said so, when it is unset). Each PostgreSQL test gets
a fresh database cloned from a migrated template, so tests are isolated and migrations run once.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from escai.store.migrate import upgrade

POSTGRES_URL = os.environ.get("ESCAI_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("ESCAI_TEST_REDIS_URL")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ESCAI_HOME at a temporary folder so no test touches the user's ~/.escai."""
    home = tmp_path_factory.mktemp("escai-home")
    monkeypatch.setenv("ESCAI_HOME", str(home))
    for name in ("ESCAI_DATABASE_URL", "ESCAI_API_KEYS", "ESCAI_HOST", "ESCAI_BUS_URL"):
        monkeypatch.delenv(name, raising=False)
    return home


def _admin_execute(statement: str) -> None:
    import psycopg2

    assert POSTGRES_URL is not None
    url = make_url(POSTGRES_URL).set(drivername="postgresql")
    connection = psycopg2.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database
    )
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def _database_url(name: str) -> str:
    assert POSTGRES_URL is not None
    return make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg", database=name).render_as_string(False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A PostgreSQL database migrated to head once per test run, used as a template for per-test clones."""
    if POSTGRES_URL is None:
        pytest.skip("ESCAI_TEST_POSTGRES_URL is not set: PostgreSQL tests are skipped")
    name = f"escai_tpl_{os.getpid()}"
    _admin_execute(f"DROP DATABASE IF EXISTS {name}")
    _admin_execute(f"CREATE DATABASE {name}")
    upgrade(_database_url(name))
    yield name
    _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database for one test."""
    template: str = request.getfixturevalue("postgres_template")
    name = f"escai_t_{uuid.uuid4().hex[:12]}"
    _admin_execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield _database_url(name)
    _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a fresh, migrated SQLite database file for one test."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'escai.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database: once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("postgres_url")
    return url
