"""From buffered records to what is sent: wire events (dicts), request bodies, and the compact spool form.

The recorder's buffer holds *records*: tuples of the ``emit`` arguments plus the scope that was current, in the
order of :data:`RECORD_FIELDS`. Turning a record into a *wire event* (the dict the ingest API takes) costs a few
microseconds of Python per event, so it is done only for events that are actually sent or stored. Events that
must wait (server down, or slower than the program) are spooled as records, serialised by ``orjson`` in C, and
converted when they are finally sent.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from escai.model.events import EventStatus
from escai.sdk.context import Scope
from escai.sdk.render import render_text

WireEvent = dict[str, Any]
"""An event as the ingest API takes it: every field, enums as enums and unset fields as None (``orjson`` writes
enums as their values)."""

Record = tuple[Any, ...]
"""What the buffer holds: see :data:`RECORD_FIELDS`."""

RECORD_FIELDS = (
    "id", "type", "scope", "timestamp_ns", "content", "name", "attributes", "session_id", "agent_id", "agent_name",
    "framework", "parent_id", "trace_id", "span_id", "step_index", "tokens_input", "tokens_output", "cost",
    "duration_ms", "status",
)  # fmt: skip
RECORDS_FORMAT = "escai.records.v1"
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Defaults:
    """What a record's missing session, agent, parent and framework fall back to (the recorder's defaults)."""

    session_id: str
    agent_id: str
    agent_name: str | None = None
    parent_id: str | None = None
    framework: str | None = None


class WireConverter:
    """Converts records into wire events for one set of defaults."""

    def __init__(self, defaults: Defaults) -> None:
        self.defaults = defaults
        self._second: tuple[int, str] = (-1, "")

    def convert(self, record: Record) -> WireEvent:
        """The wire event of one record."""
        # One dict literal with every field is the cheapest form to build in Python; this runs for every event
        # sent, on a background thread that competes with the agent for the GIL.
        defaults = self.defaults
        scope: Scope = record[2]
        seconds, nanoseconds = divmod(record[3], 1_000_000_000)
        second = self._second
        if second[0] != seconds:
            # Events come in bursts: format the date and time once per second. One tuple, so that two threads
            # converting at once never pair a second with another second's text.
            second = self._second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
        agent_id = record[8]
        agent_name = record[9]
        if agent_id is None:
            agent_id = scope.agent_id
            if agent_id is None:
                agent_id = defaults.agent_id
                agent_name = agent_name or defaults.agent_name
            else:
                agent_name = agent_name or scope.agent_name
        attributes = record[6]
        return {
            "id": record[0],
            "type": record[1],
            "session_id": record[7] or scope.session_id or defaults.session_id,
            "agent_id": agent_id,
            "agent_name": agent_name,
            "framework": record[10] or scope.framework or defaults.framework,
            "parent_id": record[11] or scope.parent_id or defaults.parent_id,
            "timestamp": f"{second[1]}.{nanoseconds // 1000:06d}Z",
            "content": record[4],
            "name": record[5],
            "attributes": {} if attributes is None else attributes if type(attributes) is dict else dict(attributes),
            "trace_id": record[12],
            "span_id": record[13],
            "step_index": record[14],
            "tokens_input": record[15],
            "tokens_output": record[16],
            "cost": record[17],
            "duration_ms": record[18],
            "status": record[19] or EventStatus.UNSET,
        }

    def session_of(self, record: Record) -> str:
        """The session a record belongs to (without converting it)."""
        session_id: str = record[7] or record[2].session_id or self.defaults.session_id
        return session_id


class Batch:
    """Records taken from the buffer together; converted to wire events on first use."""

    __slots__ = ("_wire", "converter", "records")

    def __init__(self, records: list[Record], converter: WireConverter) -> None:
        self.records = records
        self.converter = converter
        self._wire: list[WireEvent] | None = None

    def __len__(self) -> int:
        return len(self.records)

    def wire(self) -> list[WireEvent]:
        """The wire events of the batch (converted once, then cached)."""
        if self._wire is None:
            convert = self.converter.convert
            self._wire = [convert(record) for record in self.records]
        return self._wire


def _json_default(value: Any) -> Any:
    # Attributes may hold anything a user passed; the wire carries JSON only.
    if type(value) is Scope:
        return (value.session_id, value.agent_id, value.agent_name, value.framework, value.parent_id)
    return render_text(value)


_DUMPS_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS


def encode_events(events: Sequence[WireEvent], level: int = 1) -> bytes:
    """A request body: the events as a JSON array, gzip-compressed (level 1: cheap, ~5x smaller)."""
    return zlib.compress(orjson.dumps(events, default=_json_default, option=_DUMPS_OPTIONS), level, wbits=31)


def as_json_values(events: Sequence[WireEvent]) -> list[dict[str, Any]]:
    """The events exactly as a server parses them from a request body (plain JSON values, no enums or objects)."""
    parsed: list[dict[str, Any]] = orjson.loads(orjson.dumps(events, default=_json_default, option=_DUMPS_OPTIONS))
    return parsed


def decode_events(body: bytes) -> list[WireEvent]:
    """The events of a request body made by :func:`encode_events`."""
    events: list[WireEvent] = orjson.loads(zlib.decompress(body, wbits=31))
    return events


def encode_records(batch: Batch) -> bytes:
    """A batch in the compact spool form: records and defaults as plain JSON, with no per-event Python work."""
    defaults = batch.converter.defaults
    document = {
        "format": RECORDS_FORMAT,
        "defaults": [
            defaults.session_id, defaults.agent_id, defaults.agent_name, defaults.parent_id, defaults.framework,
        ],
        "records": batch.records,
    }  # fmt: skip
    return orjson.dumps(document, default=_json_default, option=_DUMPS_OPTIONS)


def _json_of(body: bytes) -> bytes:
    return zlib.decompress(body, wbits=31) if body[:2] == _GZIP_MAGIC else body


def decode_body(body: bytes) -> list[WireEvent]:
    """The wire events of a spooled body, either form (a request body, or records made by :func:`encode_records`)."""
    document = orjson.loads(_json_of(body))
    if isinstance(document, list):
        return document
    if not isinstance(document, dict) or document.get("format") != RECORDS_FORMAT:
        raise ValueError("not an ESCAI spool body")
    converter = WireConverter(Defaults(*document["defaults"]))
    events = []
    for record in document["records"]:
        record[2] = Scope(*record[2])
        events.append(converter.convert(record))
    return events


def is_records_body(body: bytes) -> bool:
    """Whether a spooled body is in the compact records form (it must be converted before it is sent)."""
    return body[:2] != _GZIP_MAGIC
