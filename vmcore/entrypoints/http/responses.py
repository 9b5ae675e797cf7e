"""JSON responses encoded with orjson (datetimes, UUIDs and dataclasses included)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def json_bytes(document: Any) -> bytes:
    return orjson.dumps(document, default=str)


def json_response(document: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    return Response(json_bytes(document), status_code=status, media_type="application/json",
                    headers=headers)
