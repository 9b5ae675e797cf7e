"""A store directory as seen by this process: its writer lock and its logs.

Every recorder and factory in one process that names the same directory shares one
:class:`FileStore` (an flock belongs to an open file description, so a second lock in the
same process would conflict with the first). The store is reference-counted and released,
lock included, when its last user closes it.
"""

from __future__ import annotations

import os
import threading
from typing import ClassVar

from vmcore_event_store.file.errors import FileStoreError
from vmcore_event_store.file.log import EventLog, FsyncPolicy
from vmcore_event_store.file.writer_lock import WriterLock

__all__ = ["FileStore"]


class FileStore:
    """One store directory: ``LOCK`` plus one sub-directory per log (``events``, ...)."""

    _registry: ClassVar[dict[str, FileStore]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        path: str,
        policy: FsyncPolicy,
        segment_bytes: int,
        group_window: float = 0.001,
        lock_timeout: float = 30.0,
        checkpoint_events: int = 10_000,
    ) -> None:
        self.path = path
        self.checkpoint_events = checkpoint_events
        self.group_window = group_window
        self.policy = policy
        self.segment_bytes = segment_bytes
        self.writer_lock = WriterLock(path, lock_timeout)
        self._logs: dict[str, EventLog] = {}
        self._logs_lock = threading.Lock()
        self._users = 0

    @classmethod
    def open(
        cls,
        path: str,
        policy: FsyncPolicy = FsyncPolicy.ALWAYS,
        segment_bytes: int = 64 << 20,
        group_window: float = 0.001,
        lock_timeout: float = 30.0,
        checkpoint_events: int = 10_000,
    ) -> FileStore:
        """Returns this process's store for ``path`` (created if missing)."""
        if not os.path.isdir(path):
            os.makedirs(path, exist_ok=True)
        key = os.path.realpath(path)
        with cls._registry_lock:
            store = cls._registry.get(key)
            if store is None:
                store = cls._registry[key] = cls(
                    key, policy, segment_bytes, group_window, lock_timeout, checkpoint_events
                )
            elif store.policy is not policy:
                msg = (
                    f"file store {key} is already open in this process with fsync policy "
                    f"{store.policy.value!r}, not {policy.value!r}"
                )
                raise FileStoreError(msg)
            store._users += 1
            return store

    def log(self, name: str) -> EventLog:
        """The named log (``events``, ``snapshots``), opened and recovered on first use."""
        with self._logs_lock:
            log = self._logs.get(name)
            if log is None:
                directory = os.path.join(self.path, name)
                log = EventLog(
                    directory,
                    self.writer_lock,
                    self.policy,
                    self.segment_bytes,
                    self.group_window,
                    self.checkpoint_events,
                )
                self._logs[name] = log
            return log

    def close(self) -> None:
        """Drops one user; the last one closes the logs and the lock file."""
        with self._registry_lock:
            self._users -= 1
            if self._users > 0:
                return
            if self._registry.get(self.path) is self:
                del self._registry[self.path]
        with self._logs_lock:
            for log in self._logs.values():
                log.close()
            self._logs.clear()
        self.writer_lock.close()

    def _forget_after_fork(self) -> None:
        """In a forked child: drop inherited descriptors without touching the parent's lock."""
        self.writer_lock.forget_after_fork()
        for log in self._logs.values():
            log.forget_after_fork()


def _after_fork_in_child() -> None:
    # A forked child must not inherit the parent's stores: it would share the parent's
    # writer lock (an flock belongs to the open file description). It opens its own.
    for store in list(FileStore._registry.values()):
        store._forget_after_fork()
    FileStore._registry.clear()
    FileStore._registry_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
