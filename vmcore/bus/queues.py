"""A worker's bounded queue: what the pool needs of :class:`asyncio.Queue`, for less.

Each worker owns one queue and is its only consumer. The contract is asyncio.Queue's:
``put_nowait`` raises :class:`asyncio.QueueFull` when ``maxsize`` items wait, ``put`` waits
for room (waiting putters are served first come, first served), ``join`` waits until every
item put has been marked done. What it saves is asyncio.Queue's generality on the hot path:
no ``full()``/``qsize()`` calls, no ``Event`` to clear on every put, no wake-up attempts when
nobody waits, and a consumer that takes items without a coroutine per item.
All methods run on the loop that owns the queue; ``len`` may be read from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import sys
from collections import deque
from collections.abc import Sized
from typing import Any


class WorkQueue:
    """A bounded FIFO with one consumer (the worker)."""

    def __init__(self, maxsize: int, loop: asyncio.AbstractEventLoop) -> None:
        self.maxsize = maxsize if maxsize > 0 else sys.maxsize
        """Items that may wait at once (``<= 0``: unbounded, as asyncio.Queue)."""
        self.unfinished = 0
        """Items put and not yet marked done (waiting or being handled)."""
        self._items: deque[Any] = deque()
        self.items: Sized = self._items
        """The waiting items (the worker tests it for emptiness without a method call)."""
        self._loop = loop
        self._putters: deque[asyncio.Future[None]] = deque()
        self._getter: asyncio.Future[None] | None = None
        self._joiners: list[asyncio.Future[None]] = []

    def __len__(self) -> int:
        return len(self.items)

    def full(self) -> bool:
        return len(self) >= self.maxsize

    def put_nowait(self, item: Any, priority: int = 0) -> None:
        """Queue ``item`` or raise :class:`asyncio.QueueFull`. FIFO ignores ``priority``."""
        items = self._items
        if len(items) >= self.maxsize:
            raise asyncio.QueueFull
        items.append(item)
        self.unfinished += 1
        self._wake_getter()

    def _wake_getter(self) -> None:
        getter = self._getter
        if getter is not None:
            self._getter = None
            if not getter.done():
                getter.set_result(None)

    async def put(self, item: Any, priority: int = 0) -> None:
        """Queue ``item``, waiting while the queue is full (the backpressure)."""
        while self.full():
            putter = self._loop.create_future()
            self._putters.append(putter)
            try:
                await putter
            except BaseException:
                putter.cancel()  # a no-op if it was woken: then pass the turn on
                with contextlib.suppress(ValueError):
                    self._putters.remove(putter)
                if not self.full() and not putter.cancelled():
                    self._wake_putter()
                raise
        self.put_nowait(item, priority)

    def _wake_putter(self) -> None:
        putters = self._putters
        while putters:
            putter = putters.popleft()
            if not putter.done():
                putter.set_result(None)
                return

    def take(self) -> Any:
        """The next item (the queue must not be empty); wakes a waiting putter."""
        item = self._items.popleft()
        if self._putters:
            self._wake_putter()
        return item

    async def wait(self) -> None:
        """Wait until an item is queued (one consumer only)."""
        while not self.items:
            getter = self._loop.create_future()
            self._getter = getter
            try:
                await getter
            finally:
                if self._getter is getter:
                    self._getter = None

    def done(self, count: int = 1) -> None:
        """Mark ``count`` taken items handled; wakes :meth:`join` when none is left."""
        self.unfinished -= count
        if not self.unfinished and self._joiners:
            joiners, self._joiners = self._joiners, []
            for joiner in joiners:
                if not joiner.done():
                    joiner.set_result(None)

    async def join(self) -> None:
        """Wait until every item put so far has been marked done."""
        if self.unfinished:
            joiner = self._loop.create_future()
            self._joiners.append(joiner)
            await joiner


class PriorityWorkQueue(WorkQueue):
    """Lower ``priority`` values first; equal priorities in the order they were put."""

    def __init__(self, maxsize: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(maxsize, loop)
        self._heap: list[tuple[int, int, Any]] = []
        self.items = self._heap
        self._seq = itertools.count()

    def put_nowait(self, item: Any, priority: int = 0) -> None:
        if len(self._heap) >= self.maxsize:
            raise asyncio.QueueFull
        heapq.heappush(self._heap, (priority, next(self._seq), item))
        self.unfinished += 1
        self._wake_getter()

    def take(self) -> Any:
        item = heapq.heappop(self._heap)[2]
        if self._putters:
            self._wake_putter()
        return item
