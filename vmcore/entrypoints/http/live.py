"""Live push: one tailing reader of the notification log per process, fanned out to clients.

The :class:`Tailer` thread follows the store (``recorder.subscribe``: in-process commits
wake it at once; other processes' commits arrive by the store's own polling) and hands
each VM event to the :class:`Hub` on the event loop. Every client has a bounded queue; a
client that falls more than ``backlog`` events behind is cut off (it resumes from the store
with its last id). :func:`follow` gives a client exactly the events after its position:
first from the store, then live, skipping what the store already gave.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Any

from attrs import frozen
from starlette.concurrency import run_in_threadpool

from vmcore.application.event_log import LoggedEvent, logged_event, read_log
from vmcore.entrypoints.http.events import positioned_record
from vmcore.entrypoints.http.responses import json_bytes


@frozen
class Frame(LoggedEvent):
    """A positioned event and its JSON, encoded once however many clients receive it."""

    data: bytes


def frame_of(item: LoggedEvent) -> Frame:
    return Frame(item.position, item.event,
                 json_bytes({"type": "event"} | positioned_record(item)))


HEARTBEAT = object()
"""Yielded by :func:`follow` when nothing happened for a heartbeat interval."""


class Overflow(Exception):
    """The client fell more than its backlog behind."""


class Closing(Exception):
    """The server is shutting down."""


_OVERFLOW = object()
_CLOSING = object()


class Subscriber:
    def __init__(self, backlog: int) -> None:
        self.backlog = backlog
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.overflowed = False

    def offer(self, item: object) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= self.backlog:
            self.overflowed = True
            self.queue.put_nowait(_OVERFLOW)
        else:
            self.queue.put_nowait(item)

    def reset(self) -> None:
        self.overflowed = False
        while not self.queue.empty():
            if self.queue.get_nowait() is _CLOSING:
                self.queue.put_nowait(_CLOSING)
                return


class Hub:
    """The connected clients of this process (used on the event loop only)."""

    def __init__(self, backlog: int = 1000) -> None:
        self.backlog = backlog
        self.subscribers: set[Subscriber] = set()
        self.closing = False
        self.delivered = 0
        self.disconnected_slow = 0

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(self.backlog)
        if self.closing:
            subscriber.queue.put_nowait(_CLOSING)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def publish(self, item: Frame) -> None:
        for subscriber in self.subscribers:
            subscriber.offer(item)

    def close(self) -> None:
        """End every stream (graceful shutdown)."""
        self.closing = True
        for subscriber in self.subscribers:
            subscriber.queue.put_nowait(_CLOSING)


class Tailer:
    """A thread following the store's notification log from ``after`` into ``hub``."""

    def __init__(self, application: Any, hub: Hub, loop: asyncio.AbstractEventLoop,
                 after: int, on_position: Callable[[int], None] | None = None) -> None:
        self.application = application
        self.on_position = on_position
        self.hub = hub
        self.loop = loop
        self.position = after
        self.error: BaseException | None = None
        self._subscription: Any = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vmcore-tailer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            with self.application.recorder.subscribe(gt=self.position) as subscription:
                self._subscription = subscription
                if self._stopped.is_set():
                    return
                for notification in subscription:
                    item = logged_event(self.application, notification)
                    self.position = notification.id
                    if self.on_position is not None:
                        self.on_position(notification.id)
                    if item is not None:
                        self.loop.call_soon_threadsafe(self.hub.publish, frame_of(item))
        except BaseException as error:  # reported by /readyz; clients resume from the store
            if not self._stopped.is_set():
                self.error = error

    def stop(self) -> None:
        self._stopped.set()
        if self._subscription is not None:
            self._subscription.stop()
        self._thread.join(timeout=10)


async def follow(application: Any, hub: Hub, after: int,
                 wanted: Callable[[LoggedEvent], bool],
                 heartbeat: float) -> AsyncGenerator[object, None]:
    """Every wanted event after position ``after`` as a :class:`Frame`, each once, in log
    order; then live.

    Yields :data:`HEARTBEAT` after ``heartbeat`` idle seconds; raises :class:`Overflow` when
    the client falls behind, :class:`Closing` when the server stops.
    """
    subscriber = hub.subscribe()
    cursor = after
    try:
        while True:  # catch up from the store (again, if the live queue overflowed meanwhile)
            page = await run_in_threadpool(read_log, application, cursor)
            for item in page.events:
                if wanted(item):
                    yield frame_of(item)
            cursor = page.last_position
            if not page.exhausted:
                continue
            if not subscriber.overflowed:
                break
            subscriber.reset()
        while True:
            queue = subscriber.queue
            if queue.empty():
                try:
                    async with asyncio.timeout(heartbeat):  # cheaper than wait_for: no task
                        item = await queue.get()
                except TimeoutError:
                    yield HEARTBEAT
                    continue
            else:
                item = queue.get_nowait()
            if item is _CLOSING:
                raise Closing()
            if item is _OVERFLOW:
                hub.disconnected_slow += 1
                raise Overflow()
            if item.position <= cursor:
                continue  # the store already gave it
            cursor = item.position
            if wanted(item):
                hub.delivered += 1
                yield item
    finally:
        hub.unsubscribe(subscriber)
