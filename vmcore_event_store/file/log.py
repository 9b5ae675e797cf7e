"""One append-only, segmented, checksummed event log (a directory of ``*.seg`` files).

Writes: a commit is validated against the in-memory index (duplicates raise IntegrityError
before a byte is written), framed as one record, written with ``pwrite`` and made durable
with ``fdatasync`` before it becomes visible and before ``append`` returns. Under the
``group`` policy concurrent committers queue their records and one of them (the leader)
writes the whole queue with a single write and a single fdatasync; the others wait for it.

Reads come from the in-memory index. A log that is not this process's writer catches up
with the files (new bytes, new segments) before every read, which is how reader processes
see another process's commits.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import warnings
from collections.abc import Sequence
from enum import Enum
from uuid import UUID

from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    Notification,
    StoredEvent,
    Tracking,
)

from vmcore_event_store.file.errors import CorruptRecordError, FileStoreError, TornTailWarning
from vmcore_event_store.file.framing import (
    Commit,
    TailState,
    encode_commit,
    encode_seal,
    scan,
)
from vmcore_event_store.file.index import LogIndex
from vmcore_event_store.file.writer_lock import WriterLock

__all__ = ["EventLog", "FsyncPolicy"]

_log = logging.getLogger(__name__)
_SUFFIX = ".seg"


class FsyncPolicy(Enum):
    ALWAYS = "always"
    """fdatasync every commit before acknowledging it (the default)."""
    GROUP = "group"
    """Concurrent commits share one write and one fdatasync; each is acked once durable."""
    NONE = "none"
    """Never fsync: survives a process crash, NOT a power loss or kernel crash. Unsafe."""


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EventLog:
    """Events and tracking positions of one log directory, shared by this process's recorders."""

    def __init__(
        self,
        directory: str,
        lock: WriterLock,
        policy: FsyncPolicy,
        segment_bytes: int,
        group_window: float = 0.001,
    ) -> None:
        self.directory = directory
        self.policy = policy
        self.segment_bytes = segment_bytes
        self._writer_lock = lock
        self._lock = threading.RLock()
        self._sync_lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._leading = False
        self._in_flight = 0
        self.group_window = group_window
        self._index = LogIndex()
        self._segment_no = 0
        self._fd = -1
        self._end = 0
        self._sealed = False
        self._is_writer = False
        self._failed: BaseException | None = None
        self._next_id = 1
        self._reserved_tracking: dict[str, int] = {}
        self._pending: list[tuple[bytes, Commit, list[tuple[str, int]]]] = []
        self._pending_keys: set[tuple[str, int]] = set()
        self._reserved_seq = 0
        self._durable_seq = 0
        self._listeners: set[threading.Event] = set()
        self._open()

    # Opening and catching up ------------------------------------------------------------

    def _segment_path(self, number: int) -> str:
        return os.path.join(self.directory, f"{number:012d}{_SUFFIX}")

    def _open(self) -> None:
        if not os.path.isdir(self.directory):
            os.makedirs(self.directory, exist_ok=True)
            _fsync_dir(os.path.dirname(self.directory))
        numbers = sorted(
            int(name[: -len(_SUFFIX)])
            for name in os.listdir(self.directory)
            if name.endswith(_SUFFIX) and name[: -len(_SUFFIX)].isdigit()
        )
        if numbers and numbers != list(range(1, len(numbers) + 1)):
            missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
            raise CorruptRecordError(
                self._segment_path(missing[0]), 0, f"segment files missing: {missing}"
            )
        if not numbers:
            self._open_segment(1, create=True)
        else:
            self._open_segment(numbers[0], create=False)
        self._catch_up(recover=True)

    def _open_segment(self, number: int, *, create: bool) -> None:
        path = self._segment_path(number)
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        fd = os.open(path, flags, 0o644)
        if create:
            os.fsync(fd)
            _fsync_dir(self.directory)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._segment_no, self._end, self._sealed = fd, number, 0, False

    def _catch_up(self, *, recover: bool) -> None:
        """Reads new records (and segments); handles a torn tail if ``recover``."""
        applied = 0
        try:
            while True:
                if self._sealed:
                    if not os.path.exists(self._segment_path(self._segment_no + 1)):
                        return
                    self._open_segment(self._segment_no + 1, create=False)
                size = os.fstat(self._fd).st_size
                if size <= self._end:
                    return
                result = scan(os.pread(self._fd, size - self._end, self._end))
                for commit in result.commits:
                    self._index.apply(commit)
                applied += len(result.commits)
                path = self._segment_path(self._segment_no)
                offset = self._end + result.end
                if result.tail is TailState.CORRUPT:
                    raise CorruptRecordError(path, offset, result.reason)
                self._end = offset
                if result.sealed:
                    self._sealed = True
                    continue
                if os.path.exists(self._segment_path(self._segment_no + 1)):
                    reason = result.reason or "segment ends without a seal record"
                    raise CorruptRecordError(path, offset, f"unsealed segment: {reason}")
                if result.tail is TailState.TORN and recover:
                    self._truncate_torn_tail(path, size, result.reason)
                return
        finally:
            if applied:
                self._notify()

    def _truncate_torn_tail(self, path: str, size: int, reason: str) -> None:
        """Drops an append cut short by a crash, if no live writer could be producing it."""
        lock = self._writer_lock
        was_held = lock.held
        if not lock.try_acquire():
            return  # A live writer owns the tail; it is an append in progress.
        try:
            os.ftruncate(self._fd, self._end)
            os.fsync(self._fd)
        finally:
            if not was_held:
                lock.release()
        message = (
            f"truncated torn tail of {path} at offset {self._end} "
            f"({size - self._end} bytes, {reason}); it was never acknowledged"
        )
        _log.warning(message)
        warnings.warn(message, TornTailWarning, stacklevel=2)

    def _refresh(self) -> None:
        if not self._is_writer and self._fd >= 0:
            self._catch_up(recover=False)

    def _become_writer(self) -> None:
        self._writer_lock.acquire()
        self._catch_up(recover=True)
        if self._sealed:
            self._open_segment(self._segment_no + 1, create=True)
        self._next_id = self._index.max_id + 1
        self._reserved_tracking = dict(self._index.max_tracking)
        self._is_writer = True

    # Writing ----------------------------------------------------------------------------

    def append(
        self,
        events: Sequence[StoredEvent],
        tracking: Tracking | None,
        ids: Sequence[int] | None = None,
    ) -> list[int]:
        """Durably appends one atomic commit; returns the notification ids it was given."""
        if self.policy is FsyncPolicy.GROUP:
            with self._lock:
                self._in_flight += 1
            try:
                return self._append(events, tracking, ids)
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._cond.notify_all()
        return self._append(events, tracking, ids)

    def _append(
        self,
        events: Sequence[StoredEvent],
        tracking: Tracking | None,
        ids: Sequence[int] | None,
    ) -> list[int]:
        with self._lock:
            self._check_ok()
            if not self._is_writer:
                self._become_writer()
            keys = self._index.check_new(events, self._pending_keys)
            LogIndex.check_tracking(tracking, self._reserved_tracking)
            new_ids = self._assign_ids(len(events), ids)
            notifications = [
                Notification(e.originator_id, e.originator_version, e.topic, e.state, i)
                for e, i in zip(events, new_ids, strict=True)
            ]
            commit = Commit(notifications, tracking)
            try:
                data = encode_commit(notifications, tracking)
            except (struct.error, AttributeError, UnicodeEncodeError) as e:
                msg = f"cannot frame events for {self.directory}: {e}"
                raise DataError(msg) from e
            if new_ids:
                self._next_id = new_ids[-1] + 1
            if tracking is not None:
                self._reserved_tracking[tracking.application_name] = tracking.notification_id
            if self.policy is not FsyncPolicy.GROUP:
                self._write(data)
                self._publish([commit])
                return new_ids
            self._pending.append((data, commit, keys))
            self._pending_keys.update(keys)
            self._reserved_seq += 1
            seq = self._reserved_seq
            self._cond.notify_all()
        self._group_commit(seq)
        return new_ids

    def _assign_ids(self, count: int, ids: Sequence[int] | None) -> list[int]:
        if ids is None:
            return list(range(self._next_id, self._next_id + count))
        given = list(ids)
        if len(given) != count:
            msg = f"{count} events but {len(given)} notification ids"
            raise IntegrityError(msg)
        previous = self._next_id - 1
        for i in given:
            if i <= previous:
                msg = f"Notification ID {i} not greater than {previous}"
                raise IntegrityError(msg)
            previous = i
        return given

    def _group_commit(self, seq: int) -> None:
        """Waits until commit ``seq`` is durable, leading a group flush if none is running.

        The leader first waits (at most ``group_window`` seconds) while other committers
        are still on their way to the queue, then writes the whole queue with one write and
        one fdatasync. Everyone in the batch is acknowledged together.
        """
        with self._cond:
            while True:
                self._check_ok()
                if self._durable_seq >= seq:
                    return
                if not self._leading:
                    self._leading = True
                    break
                self._cond.wait()
            try:
                deadline = time.monotonic() + self.group_window
                while len(self._pending) < self._in_flight:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batch, self._pending = self._pending, []
                high = self._reserved_seq
            except BaseException:
                self._leading = False
                self._cond.notify_all()
                raise
        try:
            with self._sync_lock:
                self._write(b"".join(data for data, _, _ in batch))
        finally:
            with self._cond:
                self._leading = False
                if self._failed is None:
                    for _, _, keys in batch:
                        self._pending_keys.difference_update(keys)
                    self._durable_seq = high
                    self._publish([commit for _, commit, _ in batch])
                self._cond.notify_all()

    def _write(self, data: bytes) -> None:
        """Writes and syncs at the end of the segment (caller serialises writers)."""
        try:
            view = memoryview(data)
            while view:
                written = os.pwrite(self._fd, view, self._end)
                self._end += written
                view = view[written:]
            if self.policy is not FsyncPolicy.NONE:
                os.fdatasync(self._fd)
            if self._end >= self.segment_bytes:
                self._roll_over()
        except BaseException as e:
            self._failed = e
            raise

    def _roll_over(self) -> None:
        seal = encode_seal()
        os.pwrite(self._fd, seal, self._end)
        self._end += len(seal)
        os.fdatasync(self._fd)
        self._open_segment(self._segment_no + 1, create=True)

    def _publish(self, commits: list[Commit]) -> None:
        with self._lock:
            for commit in commits:
                self._index.apply(commit)
            self._notify()

    def _notify(self) -> None:
        for listener in tuple(self._listeners):
            listener.set()

    def _check_ok(self) -> None:
        if self._failed is not None:
            msg = (
                f"event log {self.directory} failed to write ({self._failed!r}); "
                "reopen the store to recover"
            )
            raise FileStoreError(msg) from self._failed
        if self._fd < 0:
            msg = f"event log {self.directory} is closed"
            raise FileStoreError(msg)

    # Reading ----------------------------------------------------------------------------

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None,
        lte: int | None,
        desc: bool,
        limit: int | None,
    ) -> list[StoredEvent]:
        with self._lock:
            self._refresh()
            return self._index.select_events(originator_id, gt, lte, desc, limit)

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None,
        topics: Sequence[str],
        inclusive_of_start: bool,
    ) -> list[Notification]:
        with self._lock:
            self._refresh()
            return self._index.select_notifications(start, limit, stop, topics, inclusive_of_start)

    def max_notification_id(self) -> int | None:
        with self._lock:
            self._refresh()
            return self._index.max_id or None

    def max_tracking_id(self, application_name: str) -> int | None:
        with self._lock:
            self._refresh()
            return self._index.max_tracking.get(application_name)

    def poll(self) -> None:
        """Catches up with other processes' commits and wakes listeners if any arrived."""
        with self._lock:
            self._refresh()

    def listen(self, event: threading.Event) -> None:
        self._listeners.add(event)

    def unlisten(self, event: threading.Event) -> None:
        self._listeners.discard(event)

    def forget_after_fork(self) -> None:
        """In a forked child: closes the inherited descriptor; this log is unusable there."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._is_writer = False

    def close(self) -> None:
        with self._sync_lock, self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self._is_writer = False
