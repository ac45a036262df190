"""FastAPI dependencies: the service, a database connection, and API-key authentication."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket, status
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.service import EscaiService
from escai.settings import Settings


def get_service(request: Request) -> EscaiService:
    """The app's running service."""
    service: EscaiService = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_connection(
    service: Annotated[EscaiService, Depends(get_service)],
) -> AsyncIterator[AsyncConnection]:
    """A read connection for one request."""
    async with service.engine.connect() as connection:
        yield connection


def key_is_valid(presented: str | None, keys: frozenset[str]) -> bool:
    """Whether ``presented`` is one of ``keys``, compared in constant time; True when no keys are configured."""
    if not keys:
        return True
    if not presented:
        return False
    # Compare against every key so timing does not reveal which one (or whether any) matched a prefix.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented.encode(), key.encode())
    return matched


def presented_key(authorization: str | None, api_key_header: str | None) -> str | None:
    """The API key a client sent, as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``."""
    if api_key_header:
        return api_key_header.strip()
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def require_api_key(request: Request) -> None:
    """Refuse the request with 401 when API keys are configured and none of them was presented."""
    settings = get_settings(request)
    key = presented_key(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if not key_is_valid(key, settings.api_key_set):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API key (send 'Authorization: Bearer KEY' or 'X-API-Key: KEY')",
            headers={"WWW-Authenticate": "Bearer"},
        )


def websocket_key_is_valid(websocket: WebSocket) -> bool:
    """Whether a WebSocket client presented a valid key (header, or ``api_key`` query parameter for browsers)."""
    settings: Settings = websocket.app.state.settings
    key = presented_key(websocket.headers.get("authorization"), websocket.headers.get("x-api-key"))
    return key_is_valid(key or websocket.query_params.get("api_key"), settings.api_key_set)


ServiceDep = Annotated[EscaiService, Depends(get_service)]
ConnectionDep = Annotated[AsyncConnection, Depends(get_connection)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
