"""OTLP trace intake: OpenTelemetry spans (OTLP/HTTP protobuf or JSON, or SDK span dumps) as ESCAI events.

``decode`` reads export bodies into :class:`~escai.ingest.otlp.spans.Span`, ``dialects`` reads what a span means
in the GenAI, OpenInference and OpenLLMetry attribute dialects, ``mapping`` turns spans into events keeping the
span tree, and ``dump`` reads JSON span dumps. ``docs/otlp.md`` describes the mapping.
"""

from escai.ingest.otlp.decode import DecodedSpans, OtlpDecodeError, decode_json, decode_protobuf, spans_of
from escai.ingest.otlp.dump import SpanDumpError, events_from_span_dump, map_span_dump
from escai.ingest.otlp.mapping import MappedSpans, events_from_spans
from escai.ingest.otlp.spans import Span, SpanEvent, SpanRejection

__all__ = [
    "DecodedSpans",
    "MappedSpans",
    "OtlpDecodeError",
    "Span",
    "SpanDumpError",
    "SpanEvent",
    "SpanRejection",
    "decode_json",
    "decode_protobuf",
    "events_from_span_dump",
    "events_from_spans",
    "map_span_dump",
    "spans_of",
]
