"""A real TCP proxy on loopback that injects network faults between a client and a server.

It runs an asyncio server in its own thread and forwards bytes both ways. Faults:

* :meth:`drop_reply_after` arms it to watch the client's requests for a marker (bytes that
  only the write under test sends, such as a correlation id inside its event); the
  request is forwarded, the server's whole reply (up to PostgreSQL's ReadyForQuery, sent
  after the commit) is read and thrown away, and both connections are cut. So the server
  committed and the client never hears of it.
* :meth:`outage` cuts every connection and refuses new ones until :meth:`restore`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from dataclasses import dataclass, field

_READY_FOR_QUERY = b"Z\x00\x00\x00\x05"


def _contains(data: bytes, marker: bytes) -> bool:
    """Whether ``marker`` is in ``data`` as is, or hex-encoded (psycopg sends a ``bytea[]``
    parameter in text form, each element as ``\\x`` and hex digits)."""
    return marker in data or marker.hex().encode() in data


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    drop_next_reply: bool = False
    reply: bytearray = field(default_factory=bytearray)

    def cut(self) -> None:
        for writer in (self.client, self.server):
            transport = writer.transport
            if not transport.is_closing():
                transport.abort()


class FaultyProxy:
    """``with FaultyProxy(host, port) as proxy:`` then connect to ``127.0.0.1:proxy.port``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.replies_dropped = 0
        self.connections = 0
        self._marker: bytes | None = None
        self._random_drop = 0.0
        self._rng = random.Random(0)
        self._down = False
        self._links: set[_Link] = set()
        self._dropped = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    # -- faults -------------------------------------------------------------------------

    def drop_reply_after(self, marker: bytes) -> None:
        """The next request containing ``marker`` reaches the server; its reply does not."""
        self._dropped.clear()
        self._call(self._arm, marker)

    def drop_replies_at_random(self, probability: float, seed: int = 0) -> None:
        """From now on each request's reply is thrown away (and the connection cut) with
        ``probability``, after the server has answered it in full."""
        self._rng = random.Random(seed)
        self._call(self._set_random_drop, probability)

    def wait_dropped(self, timeout: float = 30.0) -> bool:
        return self._dropped.wait(timeout)

    def outage(self) -> None:
        """Cut every connection and refuse new ones."""
        self._call(self._go_down)

    def restore(self) -> None:
        self._call(self._come_back)

    # -- inside the loop ----------------------------------------------------------------

    def _call(self, function: object, *args: object) -> None:
        async def run() -> None:
            function(*args)  # type: ignore[operator]

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def _arm(self, marker: bytes) -> None:
        self._marker = marker

    def _set_random_drop(self, probability: float) -> None:
        self._random_drop = probability

    def _go_down(self) -> None:
        self._down = True
        for link in list(self._links):
            link.cut()

    def _come_back(self) -> None:
        self._down = False

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._go_down()
        if self._server is not None:
            self._server.close()
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down:
            writer.transport.abort()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        link = _Link(writer, server_writer)
        self._links.add(link)
        try:
            await asyncio.gather(self._up(reader, link), self._down_stream(server_reader, link))
        except asyncio.CancelledError:
            pass  # the proxy is shutting down
        finally:
            self._links.discard(link)
            link.cut()

    async def _up(self, reader: asyncio.StreamReader, link: _Link) -> None:
        tail = b""
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                marker = self._marker
                if marker is not None and _contains(tail + data, marker):
                    self._marker = None
                    link.drop_next_reply = True
                elif (self._random_drop and data[:1] in (b"P", b"B", b"Q")  # a query
                      and self._rng.random() < self._random_drop):
                    link.drop_next_reply = True
                tail = data[-256:]
                link.server.write(data)
                await link.server.drain()
        link.cut()

    async def _down_stream(self, reader: asyncio.StreamReader, link: _Link) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if not link.drop_next_reply:
                    link.client.write(data)
                    await link.client.drain()
                    continue
                link.reply += data
                if link.reply[-6:-1] == _READY_FOR_QUERY:  # the server has committed
                    self.replies_dropped += 1
                    link.cut()
                    self._dropped.set()
                    return
        link.cut()
