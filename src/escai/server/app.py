"""The FastAPI application factory. Nothing connects at import time: the service starts in the lifespan."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from escai._version import __version__
from escai.ops.logging import log_context, new_correlation_id
from escai.ops.metrics import IngestMetrics
from escai.server import health, ws
from escai.server.api import otlp
from escai.server.api.v1 import (
    admin,
    agents,
    attribution,
    causal,
    codegen,
    epistemic,
    events,
    patterns,
    predictions,
    sessions,
)
from escai.server.deps import require_api_key
from escai.service import EscaiService
from escai.settings import Settings

_CORRELATION_HEADERS = (b"x-correlation-id", b"x-request-id")
_MAX_CORRELATION_ID = 128


def _incoming_correlation_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name in _CORRELATION_HEADERS and 0 < len(value) <= _MAX_CORRELATION_ID and value.isascii():
            text: str = value.decode().strip()
            if text.isprintable():
                return text
    return None


class RequestContextMiddleware:
    """Give every request a correlation id (the client's, or a new one) for its log lines and response header,
    and observe its latency by route template (not the raw path, which would explode label cardinality)."""

    def __init__(self, app: ASGIApp, metrics: IngestMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        correlation_id = _incoming_correlation_id(scope) or new_correlation_id()
        started = time.perf_counter()
        status_code = 500

        async def send_with_header(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-correlation-id", correlation_id.encode())]
            await send(message)

        try:
            async with log_context(correlation_id=correlation_id, component="api"):
                await self._app(scope, receive, send_with_header)
        finally:
            if scope["type"] == "http":
                template = getattr(scope.get("route"), "path", "unmatched")
                self._metrics.request_seconds.labels(scope["method"], template, str(status_code)).observe(
                    time.perf_counter() - started
                )


def create_app(settings: Settings | None = None, service: EscaiService | None = None) -> FastAPI:
    """Build the ESCAI server app for ``settings`` (read from the environment when omitted)."""
    settings = settings or Settings()
    service = service or EscaiService(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="ESCAI",
        version=__version__,
        summary="Observability and analysis for autonomous LLM agents.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(require_api_key)])
    # ``agents`` last: its ``/agents/{id:path}`` would otherwise swallow ``/agents/{id}/epistemic`` and the like.
    for module in (events, sessions, admin, epistemic, attribution, patterns, causal, predictions, codegen, agents):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(health.router)
    app.include_router(otlp.router)
    app.include_router(ws.router)
    app.add_middleware(RequestContextMiddleware, metrics=service.metrics)
    return app
