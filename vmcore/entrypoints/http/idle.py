"""uvicorn's HTTP/1.1 protocol (h11) with a request-header deadline.

uvicorn times out idle keep-alive connections only after a response; a client that
connects and sends nothing, or only part of its first request's headers, would hold a
connection for ever. This protocol answers it ``408`` (problem+json) and closes instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0


def _timeout_response() -> bytes:
    body = orjson.dumps({"type": "about:blank", "title": "Request Timeout", "status": 408,
                         "detail": "no complete request headers in time"})
    return (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/problem+json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def header_deadline_protocol(seconds: float) -> type[H11Protocol]:
    """An h11 protocol class that gives a connection ``seconds`` to send its first request's
    headers."""

    class HeaderDeadlineProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._deadline = self.loop.call_later(seconds, self._too_slow)

        def _too_slow(self) -> None:
            if self.cycle is None and not self.transport.is_closing():
                self.transport.write(_timeout_response())
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

    return HeaderDeadlineProtocol
