"""``/api/v1/events``: ingest a batch of events; list events with filters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from escai.exceptions import PayloadTooLargeError
from escai.ingest.batcher import IngestOverloadedError
from escai.model.events import EventType
from escai.server.body import MalformedBodyError, parse_json, read_limited_body
from escai.server.deps import ConnectionDep, ServiceDep
from escai.server.responses import json_response
from escai.server.schemas import (
    ErrorResponse,
    EventPageResponse,
    IngestRequest,
    IngestResponse,
    RejectedEvent,
)
from escai.store.queries import EventFilter, list_events

# Spelled as numbers: Starlette renamed these constants between releases.
HTTP_413 = 413
HTTP_422 = 422

router = APIRouter(prefix="/events", tags=["events"])


def _error(status_code: int, detail: str, **headers: str) -> Response:
    return json_response({"detail": detail}, status_code=status_code, headers=headers or None)


def _events_of(document: Any) -> list[Any] | None:
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("events"), list):
        return list(document["events"])
    return None


@router.post(
    "",
    operation_id="ingest_events",
    summary="Ingest a batch of events",
    response_model=IngestResponse,
    responses={
        400: {"model": ErrorResponse, "description": "Body is not valid JSON, UTF-8 or gzip."},
        401: {"model": ErrorResponse},
        413: {"model": ErrorResponse, "description": "Body or batch over the configured limit."},
        422: {"model": IngestResponse, "description": "Some events were refused; the rest were stored."},
        503: {"model": ErrorResponse, "description": "Ingest queue full; retry after the given seconds."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": IngestRequest.model_json_schema(ref_template="#/components/schemas/{model}")
                }
            },
        }
    },
)
async def ingest_events(request: Request, service: ServiceDep) -> Response:
    """Validate and store a batch; answer after the accepted events are committed.

    Events that fail validation are answered with 422 and a reason each, kept in the dead-letter table, and do
    not stop the valid events of the same batch from being stored. An id already stored is acknowledged as a
    duplicate and not stored twice.
    """
    settings = service.settings
    pipeline = service.pipeline
    try:
        body = await read_limited_body(request, settings.max_body_bytes)
        document = parse_json(body)
    except PayloadTooLargeError as error:
        return _error(HTTP_413, str(error))
    except MalformedBodyError as error:
        await pipeline.dead_letter(error.raw.decode("utf-8", "replace"), error.reason)
        return _error(status.HTTP_400_BAD_REQUEST, error.reason)
    raw_events = _events_of(document)
    if raw_events is None:
        reason = 'expected a JSON array of events or an object {"events": [...]}'
        await pipeline.dead_letter(document, reason)
        return _error(HTTP_422, reason)
    if len(raw_events) > settings.max_events_per_request:
        return _error(
            HTTP_413,
            f"batch of {len(raw_events)} events is over the limit of {settings.max_events_per_request}",
        )
    try:
        result = await pipeline.ingest(raw_events, source="api")
    except IngestOverloadedError as error:
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, str(error), **{"Retry-After": "1"})
    response = IngestResponse(
        accepted=result.accepted,
        duplicates=result.duplicates,
        filtered=result.filtered,
        rejected=[RejectedEvent(index=item.index, id=item.event_id, reason=item.reason) for item in result.rejected],
    )
    code = HTTP_422 if result.rejected else status.HTTP_200_OK
    return json_response(response.model_dump(), status_code=code)


@router.get("", operation_id="list_events", summary="List events", response_model=EventPageResponse)
async def get_events(
    connection: ConnectionDep,
    session_id: str | None = None,
    agent_id: str | None = None,
    type: Annotated[list[EventType] | None, Query(description="Event types; repeat for several.")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Annotated[int | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPageResponse:
    """Events in ingest order, filtered by session, agent, type and time."""
    page = await list_events(
        connection,
        EventFilter(session_id=session_id, agent_id=agent_id, types=type, since=since, until=until, after_seq=cursor),
        limit,
    )
    return EventPageResponse(events=page.events, next_cursor=page.next_cursor)
