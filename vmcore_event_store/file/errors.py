"""Errors raised by the file event store (all are eventsourcing PersistenceErrors)."""

from __future__ import annotations

from eventsourcing.persistence import OperationalError

__all__ = ["CorruptRecordError", "FileStoreError", "StoreLockedError", "TornTailWarning"]


class FileStoreError(OperationalError):
    """Base class of the file store's own errors."""


class CorruptRecordError(FileStoreError):
    """A record inside the log failed its checks: never skipped, always raised.

    ``path`` and ``offset`` say exactly where the bad record starts.
    """

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(f"corrupt record in {path} at offset {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


class StoreLockedError(FileStoreError):
    """Another process held the store's writer lock for longer than the lock timeout."""

    def __init__(self, store_path: str, lock_path: str, holder: str) -> None:
        super().__init__(
            f"file store {store_path} is locked for writing by another process "
            f"({holder}; lock file {lock_path}) for longer than the lock timeout "
            "(VMCORE_FILE_LOCK_TIMEOUT)"
        )
        self.store_path = store_path
        self.lock_path = lock_path
        self.holder = holder


class TornTailWarning(UserWarning):
    """An incomplete record (an append cut short by a crash) was truncated on open."""
