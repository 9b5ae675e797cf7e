"""``/v1/events/stream`` (Server-Sent Events) and ``/v1/events/ws`` (WebSocket).

Each event's id is its notification-log position. A client resumes with ``Last-Event-ID``
(SSE) or ``?after=`` (both): it then gets exactly the events after that position. Without
either, a client starts at the newest event. Filters: ``topic`` (a bus-topic pattern such as
``vm.*``) and ``vm`` (a name or id).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from fnmatch import fnmatchcase
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from vmcore.application.errors import VmNotFound
from vmcore.application.event_log import LoggedEvent, head_position
from vmcore.entrypoints.http.live import HEARTBEAT, Closing, Frame, Hub, Overflow, follow
from vmcore.entrypoints.http.problems import Problem

Wanted = Callable[[LoggedEvent], bool]


def _position(text: str, name: str) -> int:
    if not text.strip().isdigit():
        raise Problem(400, f"{name} must be an event id (a whole number >= 0), got {text!r}",
                      kind="invalid-parameter")
    return int(text.strip())


async def start_position(connection: HTTPConnection) -> int:
    header = connection.headers.get("last-event-id")
    if header is not None:
        return _position(header, "Last-Event-ID")
    after = connection.query_params.get("after")
    if after is not None:
        return _position(after, "after")
    return await run_in_threadpool(head_position, connection.app.state.control_plane)


async def event_filter(connection: HTTPConnection) -> Wanted:
    topic = connection.query_params.get("topic")
    vm = connection.query_params.get("vm")
    vm_id: UUID | None = None
    if vm is not None:
        if not vm or len(vm) > 200 or not vm.isprintable():
            raise Problem(400, "vm must be a VM name or id", kind="invalid-parameter")
        try:
            vm_id = await run_in_threadpool(connection.app.state.control_plane.resolve, vm)
        except VmNotFound as error:
            raise Problem(404, str(error), kind="not-found") from None

    def wanted(item: LoggedEvent) -> bool:
        if topic is not None and not fnmatchcase(item.event.bus_topic, topic):
            return False
        return vm_id is None or item.event.originator_id == vm_id
    return wanted


def _events(connection: HTTPConnection, after: int,
            wanted: Wanted) -> AsyncGenerator[object, None]:
    state = connection.app.state
    hub: Hub = state.hub
    return follow(state.control_plane, hub, after, wanted, state.settings.heartbeat)


async def sse(request: Request) -> Response:
    after = await start_position(request)
    wanted = await event_filter(request)

    async def body() -> AsyncIterator[bytes]:
        yield b"retry: 1000\n: connected\n\n"
        events = _events(request, after, wanted)
        try:
            async for item in events:
                if item is HEARTBEAT:
                    yield b": heartbeat\n\n"
                else:
                    assert isinstance(item, Frame)
                    yield b"id: %d\ndata: %s\n\n" % (item.position, item.data)
        except Overflow:
            yield b"event: overflow\ndata: {}\n\n"
        except Closing:
            yield b"event: shutdown\ndata: {}\n\n"
        finally:
            await events.aclose()

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def websocket(socket: WebSocket) -> None:
    try:
        after = await start_position(socket)
        wanted = await event_filter(socket)
    except Problem as problem:
        await socket.close(code=4000 + problem.status, reason=problem.detail[:120])
        return
    await socket.accept()

    async def pump() -> None:
        events = _events(socket, after, wanted)
        try:
            async for item in events:
                if item is HEARTBEAT:
                    await socket.send_text('{"type":"heartbeat"}')
                else:
                    assert isinstance(item, Frame)
                    await socket.send_text(item.data.decode())
        except Overflow:
            await socket.close(code=1013, reason="backlog exceeded: resume with ?after=")
        except Closing:
            await socket.close(code=1001, reason="server shutting down")
        finally:
            await events.aclose()

    async def drain() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await socket.receive_text()

    tasks = {asyncio.create_task(pump()), asyncio.create_task(drain())}
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await task
    for task in done:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            task.result()


ROUTES = [
    Route("/v1/events/stream", sse, methods=["GET"], name="event_stream"),
    WebSocketRoute("/v1/events/ws", websocket, name="event_socket"),
]
