"""The asynchronous worker pool: bounded queues served by a fixed number of asyncio tasks.

A subscription is pinned to one worker (``id % workers``) so its events are handled in
publication order; a semaphore caps how many handlers run at once. The pool runs on the
event loop that is current when the bus is started, or on one background thread of its own.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from typing import Any

from vmcore.bus.errors import BusNotRunning, QueueFull
from vmcore.bus.queues import PriorityWorkQueue, WorkQueue
from vmcore.bus.subscription import Subscription

Item = tuple[Sequence[Subscription], Any, float | None, bool]
"""(subscriptions, event or batch, enqueued-at or ``None`` when latency is not sampled,
is-batch)."""

_STOP: Any = object()
_log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(
        self,
        *,
        workers: int,
        max_queue_size: int,
        max_concurrency: int,
        priority_queues: bool = False,
        tick: float = 0.005,
    ) -> None:
        if not 1 <= workers <= 16:
            raise ValueError("workers must be between 1 and 16")
        self.workers = workers
        self.max_queue_size = max_queue_size
        self.max_concurrency = max_concurrency
        self.priority_queues = priority_queues
        self.tick = tick
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queues: list[WorkQueue] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._thread: threading.Thread | None = None
        self._loop_thread_id = -1
        self._semaphore: asyncio.Semaphore | None = None
        self.accepting = False
        self.on_tick: Any = None

    @property
    def running(self) -> bool:
        return self.loop is not None

    @property
    def threads(self) -> int:
        return 1 if self._thread is not None else 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start on the running loop of this thread, or on a new background thread."""
        self.forget_closed_loop()
        if self.loop is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._start_thread()
        else:
            self._start_on(loop)

    def _start_on(self, loop: asyncio.AbstractEventLoop) -> None:
        queue_class = PriorityWorkQueue if self.priority_queues else WorkQueue
        self.queues = [queue_class(self.max_queue_size, loop) for _ in range(self.workers)]
        if self.max_concurrency < self.workers:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        self._tasks = [loop.create_task(self._serve(q)) for q in self.queues]
        self._tasks.append(loop.create_task(self._ticker()))
        self._loop_thread_id = threading.get_ident()
        self.loop = loop
        self.accepting = True

    def _start_thread(self) -> None:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            self._start_on(loop)
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="vmcore-bus", daemon=True)
        self._thread.start()
        ready.wait()

    async def stop_async(self) -> None:
        """Drain every queue, then end the workers (call on the pool's loop)."""
        if self.forget_closed_loop() or self.loop is None:
            return
        self.accepting = False
        for q in self.queues:
            await q.join()
        for q in self.queues:
            await q.put(_STOP, 1 << 62)  # after anything still queued
        await asyncio.gather(*self._tasks[:-1])
        self._tasks[-1].cancel()
        self.loop = None

    def forget_closed_loop(self) -> bool:
        """If the loop the pool was started on has closed (``asyncio.run`` returned), forget
        it: the workers died with it. Items still queued are dead-lettered with
        :class:`BusNotRunning`. Returns whether the pool was reset."""
        loop = self.loop
        if loop is None or not loop.is_closed():
            return False
        lost = BusNotRunning("the event loop the bus ran on closed before this was handled")
        for q in self.queues:
            for item in list(getattr(q, "items", ())):
                if item is _STOP or not isinstance(item, tuple):
                    continue
                subscriptions, payload, _t0, is_batch = _unpack(item)
                for s in subscriptions:
                    s.dead_letter(payload, lost, 0, len(payload) if is_batch else 1)
        self.loop, self.accepting, self.queues, self._tasks = None, False, [], []
        self._semaphore, self._loop_thread_id, self._thread = None, -1, None
        return True

    def stop(self) -> None:
        """Drain and stop from a thread that is not the pool's loop."""
        if self.forget_closed_loop():
            return
        loop = self.loop
        if loop is None:
            return
        if sys.is_finalizing() or (self._thread is not None and not self._thread.is_alive()):
            self.loop, self.accepting = None, False  # the interpreter is exiting: no waiting
            return
        if self.on_loop_thread():
            raise RuntimeError("stop() would block the event loop: use await bus.stop_async()")
        asyncio.run_coroutine_threadsafe(self.stop_async(), loop).result()
        if self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join()
            self._thread = None

    def on_loop_thread(self) -> bool:
        return threading.get_ident() == self._loop_thread_id

    # -- submitting ------------------------------------------------------------------------
    def submit(self, worker: int, item: Item, priority: int = 0, block: bool = False) -> None:
        """Queue from synchronous code: at once on the loop thread (``QueueFull`` when full),
        through the loop from other threads (waiting for room when ``block``)."""
        if not self.accepting or self.loop is None:
            raise BusNotRunning("start the bus before publishing to asynchronous subscribers")
        if self.on_loop_thread():
            try:
                self.queues[worker].put_nowait(item, -priority)
            except asyncio.QueueFull:
                raise QueueFull(f"worker {worker} queue is full ({self.max_queue_size})") from None
            return
        self.call(self._put(worker, item, -priority, block)).result()

    async def submit_async(self, worker: int, item: Item, priority: int = 0) -> None:
        """Queue from a coroutine, waiting while the queue is full (backpressure)."""
        if not self.accepting or self.loop is None:
            raise BusNotRunning("start the bus before publishing to asynchronous subscribers")
        if threading.get_ident() == self._loop_thread_id:
            q = self.queues[worker]
            try:
                q.put_nowait(item, -priority)  # no coroutine when there is room
            except asyncio.QueueFull:
                await q.put(item, -priority)
        else:
            await asyncio.wrap_future(self.call(self._put(worker, item, -priority, True)))

    def call(self, coro: Coroutine[Any, Any, None]) -> Future[None]:
        """Run ``coro`` on the pool's loop from another thread."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def _put(self, worker: int, item: Item, rank: int, block: bool) -> None:
        q = self.queues[worker]
        if block:
            await q.put(item, rank)
            return
        try:
            q.put_nowait(item, rank)
        except asyncio.QueueFull:
            raise QueueFull(f"worker {worker} queue is full ({self.max_queue_size})") from None

    async def join(self) -> None:
        """Wait until every queued item has been handled (call on the pool's loop)."""
        for q in self.queues:
            await q.join()

    def depth(self, worker: int) -> int:
        return len(self.queues[worker]) if self.queues else 0

    # -- serving ---------------------------------------------------------------------------
    async def _serve(self, q: WorkQueue) -> None:
        """Handle the items of ``q`` in order. Items already waiting are taken without
        suspending; an event's plain handlers are called, coroutine handlers awaited, in
        this task (no coroutine or task per item)."""
        semaphore = self._semaphore
        waiting, take, done = q.items, q.take, q.done
        while True:
            if not waiting:
                await q.wait()
            item = take()
            if item is _STOP:
                done()
                return
            subscriptions, payload, t0, is_batch = item
            if semaphore is not None:
                await semaphore.acquire()
            try:
                if is_batch:
                    for s in subscriptions:
                        if s.active:
                            await s.deliver_async(payload, t0, len(payload))
                    continue
                for s in subscriptions:
                    if not s.active:
                        continue  # unsubscribed while its events waited
                    if s.chain is not None and not s.chain(payload):
                        continue
                    try:  # first attempt inline: the common, successful case costs one call
                        if s.is_coroutine:
                            if s.timeout is None:
                                await s.handler(payload)
                            else:
                                await s.call_async(payload)
                        else:
                            s.handler(payload)
                    except Exception as error:
                        await s.deliver_async(payload, t0, 1, error)
                    else:
                        metrics = s.metrics
                        metrics.delivered += 1
                        if t0 is not None:
                            metrics.latencies.append(s.clock.now() - t0)
            except Exception:  # a filter raised: never let one event kill a worker
                _log.exception("asynchronous delivery failed outside its handler")
            finally:
                if semaphore is not None:
                    semaphore.release()
                done()

    async def _ticker(self) -> None:
        """Call ``on_tick`` every ``tick`` seconds while it reports buffered batches, and
        only ten times a second otherwise (an idle bus should not spin)."""
        busy = True
        while True:
            await asyncio.sleep(self.tick if busy else 0.1)
            if self.on_tick is not None:
                busy = bool(self.on_tick())


def _unpack(item: Any) -> Item:
    """A queued item, whether plain or wrapped by a priority queue as (rank, seq, item)."""
    unpacked: Item = item[2] if len(item) == 3 and isinstance(item[2], tuple) else item
    return unpacked
