"""Real stream clients: httpx-sse for Server-Sent Events, websockets for the WebSocket."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
from httpx_sse import connect_sse
from websockets.sync.client import connect


def sse_events(url: str, count: int, *, last_event_id: int | None = None,
               params: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None,
               connected: threading.Event | None = None) -> list[dict[str, Any]]:
    """The first ``count`` events of a fresh SSE connection (each with its SSE id).

    ``connected`` is set once the response has begun: the server has fixed the stream's
    start position by then."""
    headers = dict(headers or {})
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    found: list[dict[str, Any]] = []
    with httpx.Client(timeout=httpx.Timeout(30, read=60)) as client, \
            connect_sse(client, "GET", f"{url}/v1/events/stream", params=params,
                        headers=headers) as source:
        source.response.raise_for_status()
        if connected is not None:
            connected.set()
        for event in source.iter_sse():
            if event.event != "message" or not event.data:  # a retry: or comment block
                continue
            document = json.loads(event.data)
            assert str(document["id"]) == event.id
            found.append(document)
            if len(found) == count:
                break
    return found


def ws_url(url: str) -> str:
    return "ws" + url.removeprefix("http") + "/v1/events/ws"


def ws_events(url: str, count: int, query: str = "",
              headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with connect(f"{ws_url(url)}?{query}", additional_headers=headers,
                 open_timeout=30) as socket:
        while len(found) < count:
            message = json.loads(socket.recv(timeout=60))
            if message["type"] == "event":
                found.append(message)
    return found
