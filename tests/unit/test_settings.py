"""Settings: defaults, environment variables, and refusal of unsafe combinations."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from escai.settings import Settings


def test_default_is_embedded_sqlite_on_loopback(tmp_path: Path) -> None:
    """With nothing set, ESCAI binds 127.0.0.1 and stores in SQLite under its home folder."""
    settings = Settings(home=tmp_path)
    assert settings.host == "127.0.0.1" and settings.port == 8000
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'escai.db'}"
    assert settings.pii_masking is True


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """ESCAI_* variables configure the fields."""
    monkeypatch.setenv("ESCAI_BATCH_SIZE", "250")
    monkeypatch.setenv("ESCAI_DATABASE_URL", "postgresql://u@db:5432/escai")
    settings = Settings()
    assert settings.batch_size == 250
    assert settings.resolved_database_url == "postgresql+asyncpg://u@db:5432/escai"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "escai.example.com"])
def test_public_bind_without_keys_is_refused(host: str) -> None:
    """Binding beyond loopback without API keys is refused with a message saying what to do."""
    with pytest.raises(ValidationError, match="without authentication"):
        Settings(host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.5"])
def test_loopback_needs_no_keys(host: str) -> None:
    """Loopback addresses are allowed without authentication."""
    assert Settings(host=host).host == host


def test_public_bind_with_a_key_is_allowed() -> None:
    """With an API key, a public bind is accepted."""
    assert Settings(host="0.0.0.0", api_keys="a-long-enough-random-key-123").api_key_set == {
        "a-long-enough-random-key-123"
    }


@pytest.mark.parametrize(
    ("field", "value"), [("jwt_secret", "changeme"), ("pii_hash_key", "secret"), ("api_keys", "short")]
)
def test_default_or_weak_secrets_are_refused(field: str, value: str) -> None:
    """Well-known default secrets and short API keys are refused."""
    with pytest.raises(ValidationError):
        Settings(**{field: value})
