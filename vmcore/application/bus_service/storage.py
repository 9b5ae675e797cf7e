"""The storage thread of a durable bus instance: one thread owns the log, runs storage calls in
the order they were made, and stores every emit queued while the previous commit was in
flight in one transaction (group commit).

This is Redis's ``appendfsync always`` shape: Redis fsyncs once per event-loop turn, for all
the commands it read in that turn; here the thread commits (one fsync) whatever emits arrived
while it was busy, so N connections emitting at once share one fsync instead of queueing N.
Each emit is still answered only after the transaction holding it has committed (SQLite
``synchronous=FULL``: fsync'ed; PostgreSQL: ``COMMIT`` returned). A failed transaction
fails every emit in it and acknowledges none; the later ones go in the next transaction.

Costs per batch, not per emit: the event loop hands a job over with one
:meth:`queue.SimpleQueue.put` (C, no lock held across the commit), and the thread hands every
result of a batch back with one ``call_soon_threadsafe`` (one wake-up of the loop), so with
16 connections the hops are shared like the fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from attrs import define

from vmcore_event_store.bus_log import BusLog, NewEvent, StoredEvent

T = TypeVar("T")
MAX_BATCH = 512
"""The most emits one transaction holds (the rest go in the next one)."""
_log = logging.getLogger(__name__)


@define
class _Emit:
    event: NewEvent
    future: asyncio.Future[StoredEvent]


@define
class _Call:
    function: Callable[[], Any]
    future: asyncio.Future[Any]


_Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]
_STOP = object()


class StorageThread:
    """Runs ``log``'s calls on one thread; ``on_stored`` is called on the event loop with
    each group of emits the log stored, before their emitters are answered."""

    def __init__(self, log: BusLog, name: str,
                 on_stored: Callable[[list[StoredEvent]], None]) -> None:
        self.log = log
        self._on_stored = on_stored
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.commits = 0
        """Transactions that stored emits (for tests and benchmarks: emits / commits is the
        mean group size)."""

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._loop is not None

    def emit(self, event: NewEvent) -> asyncio.Future[StoredEvent]:
        """Store ``event`` in the next group commit; the future is its stored record, or the
        storage error when its transaction failed."""
        assert self._loop is not None, "start() first"
        future: asyncio.Future[StoredEvent] = self._loop.create_future()
        self._jobs.put(_Emit(event, future))
        return future

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """``function(*args, **kwargs)`` on the thread, after every job queued before it."""
        assert self._loop is not None, "start() first"
        future: asyncio.Future[T] = self._loop.create_future()
        self._jobs.put(_Call(lambda: function(*args, **kwargs), future))
        return future

    async def stop(self) -> None:
        """End the thread after the jobs already queued (call from the event loop)."""
        if not self._thread.is_alive():
            return
        done = self.call(lambda: None)
        self._jobs.put(_STOP)
        await done
        self._thread.join()

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            jobs = [self._jobs.get()]
            while len(jobs) < MAX_BATCH:
                try:
                    jobs.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            stop = any(job is _STOP for job in jobs)
            outcomes: list[_Outcome] = []
            stored_groups: list[list[StoredEvent]] = []
            group: list[_Emit] = []
            for job in jobs:
                if isinstance(job, _Emit):
                    group.append(job)
                    continue
                self._commit(group, outcomes, stored_groups)
                group = []
                if isinstance(job, _Call):
                    try:
                        outcomes.append((job.future, job.function(), None))
                    except BaseException as error:  # the caller gets it, whatever it is
                        outcomes.append((job.future, None, error))
            self._commit(group, outcomes, stored_groups)
            self._deliver(outcomes, stored_groups)
            if stop:
                return

    def _commit(self, group: list[_Emit], outcomes: list[_Outcome],
                stored_groups: list[list[StoredEvent]]) -> None:
        if not group:
            return
        try:
            stored = self.log.append([emit.event for emit in group])
            assert stored is not None and len(stored) == len(group)
        except Exception as error:
            _log.exception("storing %d events in one transaction failed", len(group))
            outcomes.extend((emit.future, None, error) for emit in group)
            return
        self.commits += 1
        stored_groups.append(stored)
        outcomes.extend((emit.future, record, None)
                        for emit, record in zip(group, stored, strict=True))

    def _deliver(self, outcomes: list[_Outcome], stored: list[list[StoredEvent]]) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self._loop.call_soon_threadsafe(self._settle, outcomes, stored)

    def _settle(self, outcomes: list[_Outcome], stored: list[list[StoredEvent]]) -> None:
        for records in stored:
            self._on_stored(records)
        for future, result, error in outcomes:
            if future.done():  # its emitter was cancelled (connection closed)
                continue
            if error is None:
                future.set_result(result)
            elif isinstance(error, StopIteration):  # a future refuses it as such
                future.set_exception(RuntimeError(repr(error)))
            else:
                future.set_exception(error)
