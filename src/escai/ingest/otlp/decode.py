"""Decoding OTLP/HTTP trace export bodies (protobuf or OTLP/JSON) into :class:`~escai.ingest.otlp.spans.Span`.

OTLP/JSON is the protobuf JSON mapping with the exceptions the OTLP specification makes: trace and span ids are
hex strings (not base64), enums may be integers or names, 64-bit integers may be strings or numbers, and unknown
fields are ignored. The ids are rewritten to base64 before :func:`google.protobuf.json_format.ParseDict` reads the
document, so both encodings end in the same ``ExportTraceServiceRequest`` and one code path reads the spans.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

# protobuf ships no type stubs; the generated OTLP message classes below are typed (mypy-protobuf .pyi files).
from google.protobuf import json_format  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as ProtoStatus

from escai.exceptions import IngestError
from escai.ingest.otlp.spans import (
    SPAN_ID_HEX_LENGTH,
    TRACE_ID_HEX_LENGTH,
    Span,
    SpanEvent,
    SpanRejection,
    SpanStatus,
    id_problem,
)

_SPAN_KINDS = {
    ProtoSpan.SPAN_KIND_UNSPECIFIED: "unspecified",
    ProtoSpan.SPAN_KIND_INTERNAL: "internal",
    ProtoSpan.SPAN_KIND_SERVER: "server",
    ProtoSpan.SPAN_KIND_CLIENT: "client",
    ProtoSpan.SPAN_KIND_PRODUCER: "producer",
    ProtoSpan.SPAN_KIND_CONSUMER: "consumer",
}
_STATUSES: dict[int, SpanStatus] = {
    ProtoStatus.STATUS_CODE_UNSET: "unset",
    ProtoStatus.STATUS_CODE_OK: "ok",
    ProtoStatus.STATUS_CODE_ERROR: "error",
}
# The id fields of OTLP/JSON, in both spellings that the protobuf JSON mapping accepts.
_ID_FIELDS = {
    "traceId": TRACE_ID_HEX_LENGTH,
    "trace_id": TRACE_ID_HEX_LENGTH,
    "spanId": SPAN_ID_HEX_LENGTH,
    "span_id": SPAN_ID_HEX_LENGTH,
    "parentSpanId": SPAN_ID_HEX_LENGTH,
    "parent_span_id": SPAN_ID_HEX_LENGTH,
}


class OtlpDecodeError(IngestError):
    """The body is not an OTLP trace export in the encoding it claims; ``reason`` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class DecodedSpans:
    """The spans of one export request, and the ones that could not be read (bad ids)."""

    spans: list[Span] = field(default_factory=list)
    rejected: list[SpanRejection] = field(default_factory=list)

    @property
    def received(self) -> int:
        """How many spans the request held."""
        return len(self.spans) + len(self.rejected)


def decode_protobuf(body: bytes) -> ExportTraceServiceRequest:
    """Parse an ``application/x-protobuf`` body."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as error:
        raise OtlpDecodeError(f"body is not a protobuf ExportTraceServiceRequest: {error}") from None
    return request


def decode_json(body: bytes) -> ExportTraceServiceRequest:
    """Parse an OTLP/JSON (``application/json``) body."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise OtlpDecodeError(f"body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise OtlpDecodeError('OTLP/JSON body must be an object {"resourceSpans": [...]}')
    _hex_ids_to_base64(document)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise OtlpDecodeError(f"body is not an OTLP/JSON ExportTraceServiceRequest: {error}") from None
    return request


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    for resource_spans in _list(document, "resourceSpans", "resource_spans"):
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            for span in _list(scope_spans, "spans"):
                _rewrite_ids(span)
                for link in _list(span, "links"):
                    _rewrite_ids(link)


def _list(container: Any, *names: str) -> Iterator[dict[str, Any]]:
    if not isinstance(container, dict):
        return
    for name in names:
        items = container.get(name)
        if isinstance(items, list):
            yield from (item for item in items if isinstance(item, dict))


def _rewrite_ids(item: dict[str, Any]) -> None:
    for name, length in _ID_FIELDS.items():
        value = item.get(name)
        if isinstance(value, str):
            item[name] = _id_as_base64(value, length // 2)


def _id_as_base64(value: str, size: int) -> str:
    """The id as the protobuf JSON mapping wants it; an unreadable id becomes empty (the span is then refused)."""
    if not value:
        return ""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        # Not hex: some exporters send the protobuf mapping's base64 anyway; take it when it has the right size.
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            return ""
    return base64.b64encode(raw).decode() if len(raw) == size else ""


def any_value(value: AnyValue) -> Any:
    """An OTLP attribute value as a plain JSON value (bytes as base64 text)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def attributes_of(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """OTLP key-value pairs as a dict (a repeated key keeps its last value, as the SDKs do)."""
    attributes: dict[str, Any] = {}
    for pair in pairs:
        value = pair.value
        kind = value.WhichOneof("value")
        # The common scalar cases inline: this loop runs for every attribute of every span.
        if kind == "string_value":
            attributes[pair.key] = value.string_value
        elif kind == "int_value":
            attributes[pair.key] = value.int_value
        else:
            attributes[pair.key] = any_value(value)
    return attributes


def spans_of(request: ExportTraceServiceRequest) -> DecodedSpans:
    """Every span of a decoded export request, with its resource and scope."""
    decoded = DecodedSpans()
    for resource_spans in request.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope_name = scope_spans.scope.name or None
            scope_version = scope_spans.scope.version or None
            for proto in scope_spans.spans:
                trace_id = proto.trace_id.hex()
                span_id = proto.span_id.hex()
                parent_span_id = proto.parent_span_id.hex() or None
                problem = id_problem(trace_id, span_id, parent_span_id, check_digits=False)
                if problem is not None:
                    decoded.rejected.append(SpanRejection(trace_id or None, span_id or None, problem))
                    continue
                decoded.spans.append(
                    Span(
                        trace_id=trace_id,
                        span_id=span_id,
                        parent_span_id=parent_span_id,
                        name=proto.name,
                        start_ns=proto.start_time_unix_nano,
                        end_ns=proto.end_time_unix_nano,
                        kind=_SPAN_KINDS.get(proto.kind, "unspecified"),
                        status=_STATUSES.get(proto.status.code, "unset"),
                        status_message=proto.status.message or None,
                        attributes=attributes_of(proto.attributes),
                        events=_events_of(proto) if proto.events else (),
                        links=_links_of(proto) if proto.links else (),
                        resource=resource,
                        scope_name=scope_name,
                        scope_version=scope_version,
                    )
                )
    return decoded


def _events_of(proto: ProtoSpan) -> tuple[SpanEvent, ...]:
    return tuple(SpanEvent(event.name, event.time_unix_nano, attributes_of(event.attributes)) for event in proto.events)


def _links_of(proto: ProtoSpan) -> tuple[dict[str, Any], ...]:
    return tuple(
        {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()}
        | ({"attributes": attributes_of(link.attributes)} if link.attributes else {})
        for link in proto.links
    )


def encode_response(rejected_spans: int, error_message: str, as_json: bool) -> bytes:
    """An ``ExportTraceServiceResponse`` in the request's encoding; partial success only when something failed."""
    response = ExportTraceServiceResponse()
    if rejected_spans or error_message:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = error_message
    if as_json:
        return orjson.dumps(json_format.MessageToDict(response))
    encoded: bytes = response.SerializeToString()
    return encoded


def encode_status(code: int, message: str, as_json: bool) -> bytes:
    """A ``google.rpc.Status`` error body (what OTLP/HTTP answers on failure) in the request's encoding."""
    if as_json:
        return orjson.dumps({"code": code, "message": message})
    # google.rpc.Status is {int32 code = 1; string message = 2}; two fields are encoded here by hand so that the
    # googleapis protos are not a dependency of the server.
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
