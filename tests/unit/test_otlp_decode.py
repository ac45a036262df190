"""Decoding OTLP export bodies (protobuf and OTLP/JSON), encoding the answers, and reading SDK span dumps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Status
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from escai.ingest.otlp import (
    OtlpDecodeError,
    decode_json,
    decode_protobuf,
    events_from_span_dump,
    map_span_dump,
    spans_of,
)
from escai.ingest.otlp.decode import encode_response, encode_status
from escai.model.events import AgentEvent

TRACE = "0af7651916cd43dd8448eb211c80319c"
T0 = 1_760_000_000_000_000_000  # 2025-10-09, in Unix nanoseconds
MS = 1_000_000


def span_id(number: int) -> str:
    """A readable 16-hex-digit span id."""
    return f"{number:016x}"


def tree(events: Sequence[AgentEvent]) -> list[tuple[str, str | None, str | None]]:
    """Each event as (type, name, parent's type:name), in step order."""
    index = {event.id: event for event in events}
    rows = []
    for event in sorted(events, key=lambda item: item.step_index or 0):
        parent = index.get(event.parent_id or "")
        rows.append((event.type.value, event.name, f"{parent.type.value}:{parent.name}" if parent else None))
    return rows


def proto_request() -> ExportTraceServiceRequest:
    """A protobuf export with one agent span and one failing tool span below it."""

    def attribute(key: str, value: AnyValue) -> KeyValue:
        return KeyValue(key=key, value=value)

    trace_id, root_id, child_id = bytes.fromhex(TRACE), bytes.fromhex(span_id(1)), bytes.fromhex(span_id(2))
    spans = [
        ProtoSpan(
            trace_id=trace_id, span_id=root_id, name="invoke_agent a", kind=ProtoSpan.SPAN_KIND_INTERNAL,
            start_time_unix_nano=T0, end_time_unix_nano=T0 + 10 * MS,
            attributes=[attribute("gen_ai.operation.name", AnyValue(string_value="invoke_agent")),
                        attribute("gen_ai.agent.name", AnyValue(string_value="a"))],
        ),
        ProtoSpan(
            trace_id=trace_id, span_id=child_id, parent_span_id=root_id, name="execute_tool t",
            kind=ProtoSpan.SPAN_KIND_CLIENT, start_time_unix_nano=T0 + MS, end_time_unix_nano=T0 + 2 * MS,
            attributes=[
                attribute("gen_ai.tool.name", AnyValue(string_value="t")),
                attribute("retries", AnyValue(int_value=2)),
                attribute("tags", AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="x")]))),
                attribute("blob", AnyValue(bytes_value=b"\x00\x01")),
            ],
            status=Status(code=Status.STATUS_CODE_ERROR, message="boom"),
        ),
    ]  # fmt: skip
    resource = Resource(attributes=[attribute("service.name", AnyValue(string_value="svc"))])
    scope = InstrumentationScope(name="my.instrumentation", version="1.0")
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(scope=scope, spans=spans)])]
    )


def otlp_json_document() -> dict[str, Any]:
    """The same export as :func:`proto_request`, spelled as OTLP/JSON (hex ids, enum ints and names, int64 text)."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "my.instrumentation", "version": "1.0"},
                        "spans": [
                            {
                                "traceId": TRACE, "spanId": span_id(1), "name": "invoke_agent a", "kind": 1,
                                "startTimeUnixNano": str(T0), "endTimeUnixNano": str(T0 + 10 * MS),
                                "attributes": [
                                    {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
                                    {"key": "gen_ai.agent.name", "value": {"stringValue": "a"}},
                                ],
                            },
                            {
                                "traceId": TRACE, "spanId": span_id(2), "parentSpanId": span_id(1),
                                "name": "execute_tool t", "kind": "SPAN_KIND_CLIENT",
                                "startTimeUnixNano": T0 + MS, "endTimeUnixNano": str(T0 + 2 * MS),
                                "attributes": [
                                    {"key": "gen_ai.tool.name", "value": {"stringValue": "t"}},
                                    {"key": "retries", "value": {"intValue": "2"}},
                                    {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "x"}]}}},
                                    {"key": "blob", "value": {"bytesValue": "AAE="}},
                                ],
                                "status": {"code": 2, "message": "boom"},
                                "unknownField": "ignored",
                            },
                        ],
                    }
                ],
            }
        ]
    }  # fmt: skip


def test_protobuf_and_otlp_json_decode_to_the_same_spans() -> None:
    """Both encodings of one export give equal spans, with typed attribute values and status."""
    from_proto = spans_of(decode_protobuf(proto_request().SerializeToString()))
    from_json = spans_of(decode_json(orjson.dumps(otlp_json_document())))
    assert from_proto == from_json
    assert from_proto.rejected == []
    tool = from_proto.spans[1]
    assert (tool.parent_span_id, tool.kind, tool.status, tool.status_message) == (span_id(1), "client", "error", "boom")
    assert tool.attributes == {"gen_ai.tool.name": "t", "retries": 2, "tags": ["x"], "blob": "AAE="}
    assert (tool.scope_name, tool.scope_version, tool.resource) == (
        "my.instrumentation",
        "1.0",
        {"service.name": "svc"},
    )


def test_unusable_ids_reject_only_their_span() -> None:
    """An all-zero or malformed id refuses that span; the rest of the export is read."""
    document = otlp_json_document()
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["traceId"] = "00" * 16
    decoded = spans_of(decode_json(orjson.dumps(document)))
    assert [span.span_id for span in decoded.spans] == [span_id(1)]
    assert len(decoded.rejected) == 1 and "trace id" in decoded.rejected[0].reason
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["traceId"] = "not hex, not base64!"
    assert len(spans_of(decode_json(orjson.dumps(document))).rejected) == 1


@pytest.mark.parametrize(
    ("decoder", "body"),
    [
        (decode_protobuf, b"\xff\xff\xff\xff garbage"),
        (decode_json, b"{not json"),
        (decode_json, b"[1, 2]"),
        (decode_json, b'{"resourceSpans": "nope"}'),
    ],
)
def test_undecodable_bodies_raise_with_a_reason(decoder: Any, body: bytes) -> None:
    """Garbage in either encoding raises OtlpDecodeError saying what is wrong."""
    with pytest.raises(OtlpDecodeError) as caught:
        decoder(body)
    assert caught.value.reason


def test_responses_and_errors_are_encoded_in_the_request_encoding() -> None:
    """Partial success appears only when spans were refused; error bodies are google.rpc.Status in both encodings."""
    assert encode_response(0, "", as_json=True) == b"{}"
    assert orjson.loads(encode_response(2, "bad ids", as_json=True)) == {
        "partialSuccess": {"rejectedSpans": "2", "errorMessage": "bad ids"}
    }
    assert encode_response(0, "", as_json=False) == b""
    assert orjson.loads(encode_status(3, "broken", as_json=True)) == {"code": 3, "message": "broken"}
    # field 1 (code) = 3, field 2 (message) = "broken"
    assert encode_status(3, "broken", as_json=False) == b"\x08\x03\x12\x06broken"


def test_sdk_to_json_dumps_are_read_like_any_agent_dumps() -> None:
    """A dump in the SDK's ReadableSpan.to_json() spelling (0x ids, ISO times, SpanKind names) maps like OTLP."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("unit")
    with (
        tracer.start_as_current_span("invoke_agent a", attributes={"gen_ai.operation.name": "invoke_agent"}),
        tracer.start_as_current_span("chat m", attributes={"gen_ai.operation.name": "chat"}) as llm,
    ):
        llm.record_exception(ValueError("bad answer"))
    provider.shutdown()
    document = [orjson.loads(span.to_json()) for span in exporter.get_finished_spans()]
    mapped = map_span_dump(document, framework="plain")
    assert mapped.rejected == []
    assert tree(mapped.events) == [
        ("agent_start", "a", None),
        ("llm_request", "chat m", "agent_start:a"),
        ("error", "ValueError", "llm_request:chat m"),
        ("llm_response", "chat m", "llm_request:chat m"),
        ("agent_end", "a", "agent_start:a"),
    ]
    assert {event.framework for event in mapped.events} == {"plain"}
    assert events_from_span_dump({"spans": document}, framework="plain") == mapped.events
