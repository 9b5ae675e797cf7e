"""One append-only, segmented, checksummed event log (a directory of ``*.seg`` files).

Writes go through one commit pipeline (leader/follower group commit). A committer queues
its request; whichever committer finds no flush running becomes the leader and, for the
whole queue at once:

1. takes the store's inter-process writer lock (``flock``);
2. catches up with what other processes appended since this process last looked (and, now
   that it holds the lock, repairs a torn tail left by a writer that died);
3. checks every request against the now-current index (duplicate versions, tracking ids,
   given notification ids) and assigns notification ids; a refused request fails alone;
4. writes the accepted records with one ``pwrite`` and one ``fdatasync``;
5. publishes them to the in-memory index and releases the lock; everyone is acknowledged.

Under ``always`` a leader takes whatever is queued when it starts; under ``group`` it first
waits (at most the group window) for committers already on their way. Readers in any
process catch up with the files before each read (one ``fstat`` when nothing changed) and
never take the writer lock.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Sequence
from enum import Enum

from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    Notification,
    StoredEvent,
    Tracking,
)

from vmcore_event_store.file.checkpoint import (
    Checkpoint,
    IndexFile,
    build_index,
    create_index,
    read_fingerprint,
)
from vmcore_event_store.file.errors import CorruptRecordError, FileStoreError
from vmcore_event_store.file.framing import Commit, encode_commit
from vmcore_event_store.file.index import LogIndex
from vmcore_event_store.file.reads import LogReads
from vmcore_event_store.file.segments import SegmentCursor, fsync_dir, segment_numbers
from vmcore_event_store.file.writer_lock import WriterLock

__all__ = ["EventLog", "FsyncPolicy"]

_log = logging.getLogger(__name__)
CLOSE_CHECKPOINT = 100
"""Closing checkpoints a tail at least this long, so the next process to open the log
scans fewer commits (100 snapshot records cost about 2 ms); shorter tails are left for a
later close, to spare a short CLI command the index write."""
_BUILD_ON_OPEN_BYTES = 4 << 20
"""Without a usable index, a log at least this big gets one built before it is read."""


class FsyncPolicy(Enum):
    ALWAYS = "always"
    """fdatasync every commit before acknowledging it (the default)."""
    GROUP = "group"
    """As ``always``, and a flush waits briefly for committers already on their way."""
    NONE = "none"
    """Never fsync: survives a process crash, NOT a power loss or kernel crash. Unsafe."""


class _Request:
    __slots__ = ("done", "error", "events", "ids", "result", "tracking")

    def __init__(
        self,
        events: Sequence[StoredEvent],
        tracking: Tracking | None,
        ids: Sequence[int] | None,
    ) -> None:
        self.events = events
        self.tracking = tracking
        self.ids = ids
        self.result: list[int] = []
        self.error: BaseException | None = None
        self.done = False


class EventLog(LogReads):
    """Events and tracking positions of one log directory, shared by this process's recorders."""

    def __init__(
        self,
        directory: str,
        lock: WriterLock,
        policy: FsyncPolicy,
        segment_bytes: int,
        group_window: float = 0.001,
        checkpoint_events: int = 10_000,
    ) -> None:
        self.directory = directory
        self.checkpoint_events = checkpoint_events
        self.policy = policy
        self.segment_bytes = segment_bytes
        self.group_window = group_window
        self._writer_lock = lock
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._queue: list[_Request] = []
        self._leading = False
        self._writing = False
        self._in_flight = 0
        self._failed: BaseException | None = None
        self._closed = False
        self._index = LogIndex()
        self._cursor = SegmentCursor(directory)
        self._index_file: IndexFile | None = None
        self._upto = 0
        """Reads take notification ids up to this one from the index file, later from memory."""
        self._next_checkpoint_try = checkpoint_events
        self._listeners: set[threading.Event] = set()
        self._open()

    # Opening and catching up ------------------------------------------------------------

    def _open(self) -> None:
        if not os.path.isdir(self.directory):
            try:
                os.makedirs(self.directory, exist_ok=True)
                fsync_dir(os.path.dirname(self.directory))
            except PermissionError:
                pass  # a store we may only read: an absent log is an empty log
            except OSError as e:
                if e.errno != 30:  # EROFS
                    raise
        numbers = segment_numbers(self.directory)
        if numbers and numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
            raise CorruptRecordError(
                self._cursor.path(missing[0]), 0, f"segment files missing: {missing}"
            )
        if numbers and numbers[0] != 1:
            raise CorruptRecordError(
                self._cursor.path(1), 0, f"segment files missing: {list(range(1, numbers[0]))}"
            )
        found = self._use_index(numbers) if numbers else None
        unusable = found is False
        big = found is None and numbers and self._log_bytes(numbers) >= _BUILD_ON_OPEN_BYTES
        if (unusable or big) and os.access(self.directory, os.W_OK):
            build_index(self.directory)
            self._use_index(numbers)
        self._catch_up(repair=False, check=True)
        self._maybe_checkpoint()

    def _log_bytes(self, numbers: list[int]) -> int:
        return sum(os.path.getsize(self._cursor.path(n)) for n in numbers)

    def _use_index(self, numbers: list[int]) -> bool | None:
        """Resumes from the index file's checkpoint if it matches the log.

        Returns True if resumed, None if there is no index file, False if it is unusable.
        """
        try:
            index_file = IndexFile.open(self.directory)
        except sqlite3.Error as e:
            _log.warning("file store index of %s unreadable (%s): rebuilding", self.directory, e)
            return False
        if index_file is None:
            return None
        try:
            loaded = index_file.load()
        except sqlite3.Error as e:
            loaded = None
            reason = f"unreadable ({e})"
        else:
            reason = "of another format"
        if loaded is not None:
            checkpoint, tracking = loaded
            path = self._cursor.path(checkpoint.segment_no)
            if checkpoint.segment_no in numbers and checkpoint.fingerprint == read_fingerprint(
                path, checkpoint.end
            ):
                self._cursor.resume(checkpoint.segment_no, checkpoint.end, checkpoint.sealed)
                self._index = LogIndex(checkpoint.max_id, tracking)
                self._index_file, self._upto = index_file, checkpoint.max_id
                return True
            reason = "stale: it does not match the log at its checkpoint"
        index_file.close()
        _log.warning("file store index of %s is %s: rebuilding it", self.directory, reason)
        return False

    def _maybe_checkpoint(self) -> None:
        """Moves the in-memory tail into the index file once it is big enough (``_lock``)."""
        if len(self._index) < self._next_checkpoint_try or self._writing:
            return
        self._next_checkpoint_try = len(self._index) + self.checkpoint_events
        try:
            self._checkpoint()
        except (OSError, sqlite3.Error) as e:  # a store we may only read, a busy index
            _log.debug("no checkpoint of %s: %s", self.directory, e)

    def _checkpoint(self) -> None:
        cursor = self._cursor
        if cursor.fd < 0:
            return
        if self._index_file is None or not self._index_file.writable:
            if not os.access(self.directory, os.W_OK):
                return
            if self._index_file is not None:
                self._index_file.close()
            self._index_file = create_index(self.directory)
        fingerprint = read_fingerprint(cursor.path(), cursor.end)
        if fingerprint is None:
            return
        index = self._index
        checkpoint = Checkpoint(
            cursor.segment_no, cursor.end, cursor.sealed, fingerprint, index.max_id
        )
        if self._index_file.save(checkpoint, index.notifications, index.max_tracking):
            self._index = LogIndex(index.max_id, index.max_tracking)
            self._upto = index.max_id
            self._next_checkpoint_try = self.checkpoint_events

    def _catch_up(self, *, repair: bool, check: bool = False) -> None:
        if self._cursor.catch_up(self._index.apply, repair=repair, check=check):
            self._notify()

    def _refresh(self) -> None:
        """Catches up before a read (caller holds ``_lock``).

        While this process writes it holds the writer lock and caught up under it, so the
        index already has every commit another process acknowledged before; skipping the
        files then also keeps the reader away from this process's own half-written bytes.
        """
        if not self._writing and not self._closed:
            self._catch_up(repair=False)
            self._maybe_checkpoint()

    # Writing ----------------------------------------------------------------------------

    def append(
        self,
        events: Sequence[StoredEvent],
        tracking: Tracking | None,
        ids: Sequence[int] | None = None,
    ) -> list[int]:
        """Durably appends one atomic commit; returns the notification ids it was given."""
        request = _Request(events, tracking, ids)
        with self._cond:
            self._check_ok()
            # Fast refusal of what this process already knows to be a duplicate.
            self._index.check_new(events, set())
            self._in_flight += 1
            self._queue.append(request)
            self._cond.notify_all()
        try:
            self._await(request)
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()
        if request.error is not None:
            raise request.error
        return request.result

    def _await(self, request: _Request) -> None:
        with self._cond:
            while not request.done:
                if not self._leading:
                    self._leading = True
                    break
                self._cond.wait()
            else:
                return
            try:
                if self.policy is FsyncPolicy.GROUP:
                    deadline = time.monotonic() + self.group_window
                    while len(self._queue) < self._in_flight:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        self._cond.wait(remaining)
                batch, self._queue = self._queue, []
            except BaseException:
                self._leading = False
                self._cond.notify_all()
                raise
        try:
            self._flush(batch)
        finally:
            with self._cond:
                self._leading = False
                for r in batch:
                    r.done = True
                self._cond.notify_all()

    def _flush(self, batch: list[_Request]) -> None:
        """Leader only: lock, catch up, check, write, publish, unlock, then sync.

        The lock is released before the ``fdatasync``: the next writer (in any process) may
        append while this one syncs. Nothing is acknowledged before its own sync returns,
        and a later writer's sync of the same file covers every earlier byte of it.
        """
        try:
            self._check_ok()
            self._writer_lock.acquire()
        except BaseException as e:
            for r in batch:
                r.error = e
            return
        to_sync = -1
        try:
            with self._lock:
                self._cursor.make_writable()
                self._catch_up(repair=True)
                accepted = self._prepare(batch)
                self._writing = True
            if accepted:
                try:
                    data = b"".join(data for _, data, _ in accepted)
                    sync = self.policy is not FsyncPolicy.NONE
                    synced = self._cursor.write(data, sync=sync, segment_bytes=self.segment_bytes)
                    if sync and not synced:
                        to_sync = os.dup(self._cursor.fd)
                except BaseException as e:
                    self._failed = e
                    raise
            with self._lock:
                self._writing = False
                for _, _, commit in accepted:
                    self._index.apply(commit)
                if accepted:
                    self._notify()
        except BaseException as e:
            with self._lock:
                self._writing = False
            for r in batch:
                if r.error is None:
                    r.error = e
        finally:
            self._writer_lock.release()
        if to_sync >= 0:
            try:
                os.fdatasync(to_sync)
            except BaseException as e:
                self._failed = e
                for r in batch:
                    r.error = r.error or e
            finally:
                os.close(to_sync)
        with self._lock:
            self._maybe_checkpoint()  # outside the writer lock: other processes go on

    def _prepare(self, batch: list[_Request]) -> list[tuple[_Request, bytes, Commit]]:
        """Checks and frames each request against the caught-up index (under ``_lock``)."""
        accepted = []
        keys: set[tuple[str, int]] = set()
        tracking_max = dict(self._index.max_tracking)
        next_id = self._index.max_id + 1
        for r in batch:
            try:
                new_keys = self._index.check_new(r.events, keys)
                if self._index_file is not None and r.events:
                    found = self._index_file.existing(
                        [(e.originator_id, e.originator_version) for e in r.events]
                    )
                    if found:
                        msg = f"Stored event already recorded: {found[0]}"
                        raise IntegrityError(msg)
                LogIndex.check_tracking(r.tracking, tracking_max)
                ids = self._assign_ids(len(r.events), r.ids, next_id)
                notifications = [
                    Notification(e.originator_id, e.originator_version, e.topic, e.state, i)
                    for e, i in zip(r.events, ids, strict=True)
                ]
                try:
                    data = encode_commit(notifications, r.tracking)
                except (struct.error, AttributeError, UnicodeEncodeError) as e:
                    msg = f"cannot frame events for {self.directory}: {e}"
                    raise DataError(msg) from e
            except (IntegrityError, DataError) as e:
                r.error = e
                continue
            keys.update(new_keys)
            if ids:
                next_id = ids[-1] + 1
            if r.tracking is not None:
                tracking_max[r.tracking.application_name] = r.tracking.notification_id
            r.result = ids
            accepted.append((r, data, Commit(notifications, r.tracking)))
        return accepted

    @staticmethod
    def _assign_ids(count: int, ids: Sequence[int] | None, next_id: int) -> list[int]:
        if ids is None:
            return list(range(next_id, next_id + count))
        given = list(ids)
        if len(given) != count:
            msg = f"{count} events but {len(given)} notification ids"
            raise IntegrityError(msg)
        previous = next_id - 1
        for i in given:
            if i <= previous:
                msg = f"Notification ID {i} not greater than {previous}"
                raise IntegrityError(msg)
            previous = i
        return given

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
        if self._closed:
            msg = f"event log {self.directory} is closed"
            raise FileStoreError(msg)

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
        self._cursor.close()
        self._closed = True
        self._index_file = None  # the parent's connection: never used in the child

    def close(self) -> None:
        with self._lock:
            if not self._closed and len(self._index) >= min(CLOSE_CHECKPOINT,
                                                              self.checkpoint_events):
                self._next_checkpoint_try = 0
                self._maybe_checkpoint()
            self._cursor.close()
            self._closed = True
            if self._index_file is not None:
                self._index_file.close()
                self._index_file = None
