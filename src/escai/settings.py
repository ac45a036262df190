"""ESCAI's configuration, declared in one place.

Every field can be set with an ``ESCAI_``-prefixed environment variable (``ESCAI_DATABASE_URL``,
``ESCAI_API_KEYS``, ...) or a ``.env`` file. Validators refuse unsafe combinations instead of warning about them:
a bind address other than loopback without API keys, or a secret left at a well-known default value.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from escai.exceptions import ConfigurationError

DEFAULT_HOME = Path.home() / ".escai"

# Values that appear in tutorials and templates; a deployment that uses one has no secret at all.
WELL_KNOWN_SECRETS = frozenset({"changeme", "change-me", "secret", "password", "escai", "default", "test"})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Configuration of an ESCAI server, SDK or command, read from ``ESCAI_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="ESCAI_", env_file=".env", extra="ignore", frozen=True)

    home: Path = Field(default=DEFAULT_HOME, description="Folder for the embedded database, spool and logs.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL. Default: embedded SQLite at HOME/escai.db. "
        "PostgreSQL: postgresql+asyncpg://user@host:5432/db (plain postgresql:// is accepted).",
    )
    environment: Literal["development", "production"] = "development"

    host: str = Field(default="127.0.0.1", description="Bind address of `escai serve`.")
    port: int = Field(default=8000, ge=0, le=65535)
    api_keys: str = Field(
        default="",
        description="Comma-separated API keys accepted for ingestion and reads. Empty: no authentication, "
        "which is only allowed on a loopback bind address.",
    )
    jwt_secret: SecretStr | None = Field(default=None, description="Secret for signing people's tokens.")

    pii_masking: bool = Field(default=True, description="Mask e-mails, phones, cards, keys, tokens, IPs.")
    pii_hash_key: SecretStr | None = Field(
        default=None,
        description="When set, PII is replaced by a keyed hash (same value, same token) instead of a placeholder.",
    )

    batch_size: int = Field(default=100, ge=1, le=100_000, description="Events per storage transaction.")
    batch_timeout_ms: float = Field(default=100.0, gt=0, description="Longest wait to fill a batch.")
    queue_max_events: int = Field(default=200_000, ge=1, description="Ingest queue bound (backpressure).")
    max_events_per_request: int = Field(default=10_000, ge=1, description="Larger batches are answered 413.")
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="Larger bodies: 413.")
    max_future_skew_s: float = Field(default=24 * 3600, gt=0, description="Reject timestamps this far ahead.")
    min_timestamp_year: int = Field(default=2000, description="Reject timestamps before this year.")
    ingest_drop_types: str = Field(default="", description="Comma-separated event types to filter out.")
    write_retries: int = Field(default=5, ge=0, description="Retries of a transient database error.")

    bus_url: str | None = Field(default=None, description="redis://... for Redis Streams; empty: in-process.")
    redis_url: str | None = Field(default=None, description="Redis for live cache and rate limits.")

    analysis_live: bool = Field(default=True, description="Update epistemic states live as events are stored.")
    analysis_cpu_share: float = Field(
        default=0.25, gt=0, le=1, description="Most of the CPU time live analysis may take from ingest (0-1]."
    )
    analysis_method: Literal["auto", "minilm", "light"] = Field(
        default="light",
        description="Sentence similarity for live analysis: light (hashed n-grams), minilm (needs escai[nlp]), auto.",
    )
    explain_llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint that rewords explanations; none: templates only."
    )
    explain_llm_model: str | None = Field(default=None, description="Model name for the explanation endpoint.")
    explain_llm_api_key: SecretStr | None = Field(default=None, description="API key of the explanation endpoint.")
    explain_llm_timeout_s: float = Field(
        default=10.0, gt=0, description="Wait this long for the endpoint, then fall back to templates."
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "console"
    log_file: Path | None = None

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str | None) -> str | None:
        # Users paste the URL their other tools use; map the plain schemes onto the async drivers ESCAI runs on.
        if url is None or url == "":
            return None
        for plain, asynchronous in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite:///", "sqlite+aiosqlite:///"),
        ):
            if url.startswith(plain):
                return asynchronous + url[len(plain) :]
        return url

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if not _is_loopback(self.host) and not self.api_key_set:
            raise ConfigurationError(
                f"refusing to bind {self.host!r} without authentication: set ESCAI_API_KEYS, or bind 127.0.0.1"
            )
        for name, secret in (("jwt_secret", self.jwt_secret), ("pii_hash_key", self.pii_hash_key)):
            if secret is not None and secret.get_secret_value().lower() in WELL_KNOWN_SECRETS:
                raise ConfigurationError(f"ESCAI_{name.upper()} is a well-known default value; choose a real secret")
        for key in self.api_key_set:
            if key.lower() in WELL_KNOWN_SECRETS or len(key) < 16:
                raise ConfigurationError("each API key in ESCAI_API_KEYS must be at least 16 characters, not a default")
        return self

    @property
    def api_key_set(self) -> frozenset[str]:
        """The configured API keys; empty when authentication is off."""
        return frozenset(key.strip() for key in self.api_keys.split(",") if key.strip())

    @property
    def calibration_path(self) -> Path:
        """Where a fitted confidence calibrator is kept (used by live analysis when present)."""
        return self.home / "models" / "epistemic_calibration.json"

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or embedded SQLite under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.home / 'escai.db'}"
