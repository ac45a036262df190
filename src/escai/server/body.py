"""Reading a request body with size limits, optional gzip, and precise errors for malformed JSON."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import Request

from escai.exceptions import IngestError, PayloadTooLargeError


class MalformedBodyError(IngestError):
    """The body is not valid JSON (or not valid UTF-8, or not valid gzip); ``raw`` keeps what was sent."""

    def __init__(self, reason: str, raw: bytes) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


async def read_limited_body(request: Request, max_bytes: int) -> bytes:
    """The request body, decompressed if gzip-encoded; refuse more than ``max_bytes`` either way."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLargeError(f"request body of {declared} bytes is over the limit of {max_bytes} bytes")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise PayloadTooLargeError(f"request body is over the limit of {max_bytes} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        body = _gunzip_limited(body, max_bytes)
    return body


def _gunzip_limited(body: bytes, max_bytes: int) -> bytes:
    # Bound the output as well as the input, so a small "zip bomb" cannot expand into gigabytes.
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, max_bytes + 1)
    except zlib.error as error:
        raise MalformedBodyError(f"body is not valid gzip: {error}", body[:1024]) from None
    if len(data) > max_bytes or decompressor.unconsumed_tail:
        raise PayloadTooLargeError(f"decompressed body is over the limit of {max_bytes} bytes")
    return data


def parse_json(body: bytes) -> Any:
    """Parse JSON, turning every decode failure into a :class:`MalformedBodyError` that says where."""
    if not body.strip():
        raise MalformedBodyError('request body is empty; expected a JSON array of events or {"events": [...]}', b"")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedBodyError(f"body is not valid JSON: {error}", body) from None
