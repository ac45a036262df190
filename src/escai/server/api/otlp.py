"""``POST /v1/traces``: the OTLP/HTTP trace receiver (protobuf or JSON, optionally gzip- or deflate-compressed).

Any OpenTelemetry exporter can point here. Spans become ESCAI events (see ``escai.ingest.otlp`` and
``docs/otlp.md``) and go through the same ingest pipeline as ``/api/v1/events``. The answer is an
``ExportTraceServiceResponse`` in the request's encoding, sent after the events are committed; spans that could
not be stored are counted in ``partial_success``. Failures follow the OTLP/HTTP specification: 400 with a
``google.rpc.Status`` body for a body that cannot be decoded (kept as a dead letter), 415 for another content
type, 413 over the size limit, 503 with ``Retry-After`` when the ingest queue is full (exporters retry on 503).
"""

from __future__ import annotations

import base64
import zlib
from typing import Final

from fastapi import APIRouter, Depends, Request, Response

from escai.exceptions import PayloadTooLargeError
from escai.ingest.batcher import IngestOverloadedError
from escai.ingest.otlp.decode import (
    OtlpDecodeError,
    decode_json,
    decode_protobuf,
    encode_response,
    encode_status,
    spans_of,
)
from escai.ingest.otlp.mapping import SpanKey, events_from_spans, span_key_of_event_id
from escai.ingest.otlp.spans import SpanRejection
from escai.server.body import MalformedBodyError, read_limited_body
from escai.server.deps import ServiceDep, require_api_key

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
SOURCE: Final = "otlp"
# google.rpc.Code values used in OTLP error bodies.
_INVALID_ARGUMENT = 3
_RESOURCE_EXHAUSTED = 8
_UNAVAILABLE = 14
_MAX_REASONS_IN_MESSAGE = 5
_DEAD_LETTER_BYTES = 48 * 1024

router = APIRouter(tags=["otlp"], dependencies=[Depends(require_api_key)])


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _answer(body: bytes, status_code: int, as_json: bool, **headers: str) -> Response:
    return Response(body, status_code=status_code, media_type=JSON if as_json else PROTOBUF, headers=headers or None)


def _failure(status_code: int, code: int, message: str, as_json: bool, **headers: str) -> Response:
    return _answer(encode_status(code, message, as_json), status_code, as_json, **headers)


def _dead_letter_text(body: bytes) -> str:
    """The refused body as storable text: UTF-8 when it is text, else base64 (NUL cannot go into PostgreSQL)."""
    text = body.decode("utf-8", "replace")
    if "\x00" in text:
        return "base64:" + base64.b64encode(body[:_DEAD_LETTER_BYTES]).decode()
    return text


def _inflate_limited(body: bytes, max_bytes: int) -> bytes:
    """A zlib-deflated body (the OpenTelemetry Python exporter's ``deflate`` option), bounded like gzip bodies."""
    decompressor = zlib.decompressobj()
    try:
        data = decompressor.decompress(body, max_bytes + 1)
    except zlib.error as error:
        raise MalformedBodyError(f"body is not valid deflate data: {error}", body[:1024]) from None
    if len(data) > max_bytes or decompressor.unconsumed_tail:
        raise PayloadTooLargeError(f"decompressed body is over the limit of {max_bytes} bytes")
    return data


def _summary(rejections: list[SpanRejection]) -> str:
    reasons = [f"span {item.span_id or '?'}: {item.reason}" for item in rejections[:_MAX_REASONS_IN_MESSAGE]]
    more = len(rejections) - len(reasons)
    return "; ".join(reasons) + (f"; and {more} more" if more > 0 else "")


@router.post(
    "/v1/traces",
    operation_id="otlp_export_traces",
    summary="Receive OTLP/HTTP traces",
    responses={
        200: {
            "description": "ExportTraceServiceResponse; partial_success counts spans that were refused.",
            "content": {PROTOBUF: {}, JSON: {}},
        },
        400: {"description": "Body is not an OTLP trace export (google.rpc.Status)."},
        401: {"description": "Missing or invalid API key."},
        413: {"description": "Body over the configured limit."},
        415: {"description": "Content type is neither application/x-protobuf nor application/json."},
        503: {"description": "Ingest queue full; retry after the given seconds."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                JSON: {"schema": {"type": "object", "description": "OTLP/JSON ExportTraceServiceRequest"}},
            },
        }
    },
)
async def export_traces(request: Request, service: ServiceDep) -> Response:
    """Decode an OTLP trace export, map its spans to events, and answer once they are committed."""
    media_type = _media_type(request)
    if media_type not in (PROTOBUF, JSON):
        message = f"unsupported content type {media_type or '(none)'!r}; send {PROTOBUF} or {JSON}"
        return _failure(415, _INVALID_ARGUMENT, message, as_json=True)
    as_json = media_type == JSON
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "deflate"):
        return _failure(415, _INVALID_ARGUMENT, f"unsupported content encoding {encoding!r}; send gzip", as_json)
    pipeline = service.pipeline
    max_bytes = service.settings.max_body_bytes
    try:
        body = await read_limited_body(request, max_bytes)
        if encoding == "deflate":
            body = _inflate_limited(body, max_bytes)
        export = decode_json(body) if as_json else decode_protobuf(body)
    except PayloadTooLargeError as error:
        return _failure(413, _RESOURCE_EXHAUSTED, str(error), as_json)
    except MalformedBodyError as error:
        await pipeline.dead_letter(_dead_letter_text(error.raw), error.reason, source=SOURCE)
        return _failure(400, _INVALID_ARGUMENT, error.reason, as_json)
    except OtlpDecodeError as error:
        await pipeline.dead_letter(_dead_letter_text(body), error.reason, source=SOURCE)
        return _failure(400, _INVALID_ARGUMENT, error.reason, as_json)
    decoded = spans_of(export)
    limit = service.settings.max_events_per_request
    if decoded.received > limit:
        # Exporters send a few hundred spans a request (the SDK's batch default is 512); the cap bounds memory.
        message = f"export of {decoded.received} spans is over the limit of {limit} spans per request"
        return _failure(413, _RESOURCE_EXHAUSTED, message, as_json)
    mapped = events_from_spans(decoded.spans)
    rejections = decoded.rejected + mapped.rejected
    try:
        result = await pipeline.ingest(mapped.events, source=SOURCE)
    except IngestOverloadedError as error:
        return _failure(503, _UNAVAILABLE, str(error), as_json, **{"Retry-After": "1"})
    # Events the pipeline refused (for example an impossible timestamp) make their whole span a rejected span.
    counted = {(item.trace_id, item.span_id) for item in rejections}
    refused: dict[SpanKey, str] = {}
    for item in result.rejected:
        # The pipeline names a refused event by its position in what it was given (and by id when it can).
        event_id = mapped.events[item.index].id if 0 <= item.index < len(mapped.events) else item.event_id
        span_key = span_key_of_event_id(event_id)
        if span_key is not None and span_key not in counted:
            refused.setdefault(span_key, item.reason)
    rejections.extend(SpanRejection(trace_id, span_id, reason) for (trace_id, span_id), reason in refused.items())
    return _answer(encode_response(len(rejections), _summary(rejections), as_json), 200, as_json)
