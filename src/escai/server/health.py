"""``/health`` (the process is alive), ``/ready`` (it can take traffic), ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from escai._version import __version__
from escai.server.deps import ServiceDep, require_api_key
from escai.server.responses import json_response
from escai.server.schemas import HealthResponse
from escai.service import EscaiService

router = APIRouter(tags=["health"])

READY_TIMEOUT_S = 2.0


async def readiness(service: EscaiService) -> HealthResponse:
    """Check the database answers and the batch writer runs."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), service.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"error: {type(error).__name__}: {error}"[:300]
    checks["ingest_writer"] = "ok" if service.batcher.running else "error: not running"
    checks["ingest_queue"] = f"{service.batcher.queued_events} events waiting"
    healthy = all(not value.startswith("error") for value in checks.values())
    return HealthResponse(status="ok" if healthy else "unavailable", checks=checks, version=__version__)


@router.get("/health", operation_id="health", response_model=HealthResponse)
async def health() -> HealthResponse:
    """Liveness: answers as long as the process serves requests."""
    return HealthResponse(status="ok", version=__version__)


@router.get("/ready", operation_id="ready", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def ready(service: ServiceDep) -> Response:
    """Readiness: 200 when the database answers and the writer runs, 503 otherwise."""
    result = await readiness(service)
    return json_response(result.model_dump(), status_code=200 if result.status == "ok" else 503)


@router.get("/metrics", operation_id="prometheus_metrics", dependencies=[Depends(require_api_key)])
async def metrics(service: ServiceDep) -> Response:
    """Prometheus text format: ingest counters, latency histograms, queue depth."""
    return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)
