"""JSON responses for handlers that choose their own status code."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialised with orjson (handles datetimes and UUIDs)."""
    return Response(orjson.dumps(content), status_code=status_code, headers=headers, media_type="application/json")
