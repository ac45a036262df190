"""A deliberately thin HTTP/1.1 client for load generation.

Throughput benchmarks on a 2-core machine share the cores between the server and the load generator; a
general-purpose client (httpx) spends about a core of its own building and parsing requests. This client sends
pre-built requests over keep-alive connections and reads only the status line and body, so nearly all CPU goes
to the server being measured.
"""

from __future__ import annotations

import asyncio


def build_post(path: str, body: bytes, host: str, extra_headers: dict[str, str] | None = None) -> bytes:
    """The bytes of a complete POST request with a JSON body."""
    headers = {"Host": host, "Content-Type": "application/json", "Content-Length": str(len(body))}
    headers.update(extra_headers or {})
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode() + b"\r\n" + body


class RawConnection:
    """One keep-alive connection that sends a request and returns (status, body)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        """Connect to ``host:port``."""
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send a pre-built request; read the response."""
        self._writer.write(raw)
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self._reader.readexactly(length) if length else b""
        return status, body

    async def close(self) -> None:
        """Close the connection."""
        self._writer.close()
        await self._writer.wait_closed()
