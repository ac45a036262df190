"""``/api/v1/admin``: health, ingest metrics, dead letters and the configuration in force (secrets hidden)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from escai.server.deps import ConnectionDep, ServiceDep, SettingsDep
from escai.server.health import readiness
from escai.server.schemas import HealthResponse
from escai.store.queries import DeadLetterRecord, list_dead_letters
from escai.store.seed_repository import EventProcessingHealth, list_event_processing_health

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/health", operation_id="admin_health", response_model=HealthResponse)
async def admin_health(service: ServiceDep) -> HealthResponse:
    """Readiness with the state of each dependency."""
    return await readiness(service)


@router.get("/metrics", operation_id="admin_ingest_metrics", response_model=list[EventProcessingHealth])
async def admin_metrics(
    connection: ConnectionDep,
    hours: Annotated[float, Query(gt=0, le=24 * 30)] = 24,
    stage: str | None = None,
) -> list[EventProcessingHealth]:
    """Ingest batches per stage and hour over the last ``hours``: counts, failures, p50/p95/p99, queue wait."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    return await list_event_processing_health(connection, stage=stage, since=since)


@router.get("/dead-letters", operation_id="list_dead_letters", response_model=list[DeadLetterRecord])
async def dead_letters(
    connection: ConnectionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[DeadLetterRecord]:
    """Refused records, newest first, with why they were refused."""
    return await list_dead_letters(connection, limit)


@router.get("/config", operation_id="admin_config")
async def admin_config(settings: SettingsDep) -> dict[str, Any]:
    """The settings in force; secrets and the database password are never shown."""
    shown = settings.model_dump(mode="json", exclude={"api_keys", "jwt_secret", "pii_hash_key", "database_url"})
    shown["database"] = settings.resolved_database_url.split("@")[-1]
    shown["authentication"] = bool(settings.api_key_set)
    return shown
