"""The door: bearer-token check and per-client rate limit for every ``/v1`` route.

Pure ASGI middleware, so it sees HTTP and WebSocket requests alike. Browsers cannot set an
``Authorization`` header on ``EventSource`` or ``WebSocket``, so the two stream routes also
accept ``?access_token=``.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from vmcore.entrypoints.http.problems import problem_response
from vmcore.entrypoints.http.ratelimit import RateLimiter, retry_after

STREAM_PATHS = ("/v1/events/stream", "/v1/events/ws")


def token_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison (of bytes, so any text is safe)."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def presented_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credentials = value.decode("utf-8", "replace").partition(" ")
            return credentials.strip() if scheme.lower() == "bearer" else None
    if scope["path"] in STREAM_PATHS:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        values = query.get("access_token")
        return values[0] if values else None
    return None


class Guard:
    def __init__(self, app: ASGIApp, *, token: str | None, limiter: RateLimiter | None) -> None:
        self.app = app
        self.token = token
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        # The limit comes first, so wrong tokens cannot be tried at full speed.
        if self.limiter is not None:
            client = scope.get("client")
            wait = self.limiter.take(client[0] if client else "unknown")
            if wait > 0:
                await self._refuse(scope, receive, send, 429,
                                   "rate limit exceeded: slow down",
                                   {"Retry-After": retry_after(wait)}, "rate-limited")
                return
        if self.token is not None and not token_matches(self.token, presented_token(scope)):
            await self._refuse(scope, receive, send, 401, "missing or wrong bearer token",
                               {"WWW-Authenticate": 'Bearer realm="vmcore"'}, "unauthorized")
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str,
                      headers: dict[str, str], kind: str) -> None:
        if scope["type"] == "websocket":
            # Before the handshake is accepted, a close makes the server answer HTTP 403.
            await send({"type": "websocket.close", "code": 4000 + status, "reason": detail})
            return
        response = problem_response(status, detail, kind=kind, instance=scope["path"],
                                    headers=headers)
        await response(scope, receive, send)
