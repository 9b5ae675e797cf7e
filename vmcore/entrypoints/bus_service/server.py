"""The TCP side of a bus instance: newline-delimited JSON-RPC, one task per request (at most
``MAX_IN_FLIGHT`` per connection, then reading pauses), one push task per subscription."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from vmcore.application.bus_service import (
    BusInstance,
    Session,
    Subscription,
    dropped_line,
    error_line,
    event_line,
    handle_message,
)
from vmcore.application.bus_service.errors import MESSAGE_TOO_LARGE, TOO_MANY_CONNECTIONS

MAX_LINE = 1 << 20
"""The longest message line (1 MiB, newline excluded); a longer one closes the connection."""
MAX_IN_FLIGHT = 64
_log = logging.getLogger(__name__)


async def start_server(instance: BusInstance) -> asyncio.Server:
    config = instance.config
    open_connections = 0

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_connections
        if open_connections >= config.max_connections:
            writer.write(error_line(TOO_MANY_CONNECTIONS, "Too many connections",
                                    f"bus {config.id!r} serves at most"
                                    f" {config.max_connections} connections"))
            with contextlib.suppress(ConnectionError, OSError):
                await writer.drain()
            writer.close()
            return
        open_connections += 1
        try:
            await Connection(instance, reader, writer).run()
        finally:
            open_connections -= 1

    return await asyncio.start_server(connected, config.host, config.port, limit=MAX_LINE + 1)


class Connection:
    def __init__(self, instance: BusInstance, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.tasks: set[asyncio.Task[None]] = set()
        self.session = Session(instance, self._start_push)
        self.slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def run(self) -> None:
        try:
            while True:
                try:
                    line = await self.reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as end:
                    if end.partial.strip():
                        await self._answer(end.partial)
                    break
                except asyncio.LimitOverrunError:
                    await self._send(error_line(MESSAGE_TOO_LARGE, "Message too large",
                                                f"a line is at most {MAX_LINE} bytes;"
                                                " closing the connection"))
                    break
                if len(line) > MAX_LINE + 1:
                    await self._send(error_line(MESSAGE_TOO_LARGE, "Message too large",
                                                f"a line is at most {MAX_LINE} bytes;"
                                                " closing the connection"))
                    break
                if not line.strip():
                    continue
                await self.slots.acquire()
                self._spawn(self._answer(line, release=True))
        except (ConnectionError, OSError):
            pass
        finally:
            await self._close()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, line: bytes, release: bool = False) -> None:
        try:
            answer = await handle_message(self.session, line)
            if answer is not None:
                await self._send(answer)
        except (ConnectionError, OSError):
            pass
        finally:
            if release:
                self.slots.release()

    async def _send(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise ConnectionResetError("closed")
        self.writer.write(data)
        await self.writer.drain()

    def _start_push(self, subscription: Subscription) -> None:
        self._spawn(self._push(subscription))

    async def _push(self, subscription: Subscription) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while (event := await subscription.next()) is not None:
                await self._send(event_line(subscription, event))
            if subscription.dropped_reason is not None:
                await self._send(dropped_line(subscription))
                self.session.subscriptions.pop(subscription.id, None)

    async def _close(self) -> None:
        self.session.close()
        # answers still being computed get a moment; pushes end with their subscriptions
        pending = [task for task in self.tasks if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=5)
        for task in self.tasks:
            task.cancel()
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
