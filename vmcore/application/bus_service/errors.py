"""JSON-RPC error codes: the standard ones, and the bus service's own (-32000 to -32099)."""

from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

SOURCE_REFUSED = -32001
"""The envelope's source_trn is not under one of the instance's ``allowed_sources``."""
QUEUE_FULL = -32002
"""The instance's emit queue stayed full for the whole wait: retry later."""
UNKNOWN_SUBSCRIPTION = -32003
UNKNOWN_RULE = -32004
RULES_DISABLED = -32005
STORAGE_FAILED = -32006
MESSAGE_TOO_LARGE = -32007
"""A line over the size limit; the server closes the connection after this answer."""
TOO_MANY_CONNECTIONS = -32008
"""The instance already serves ``max_connections`` clients; this one is closed."""


class RpcError(Exception):
    """An error answer: ``code``, a one-line ``message`` and ``data`` saying why."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def bad_params(why: str) -> RpcError:
    return RpcError(INVALID_PARAMS, "Invalid params", why)
