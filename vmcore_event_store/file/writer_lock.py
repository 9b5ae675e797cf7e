"""The store's inter-process writer lock: ``flock(LOCK_EX | LOCK_NB)`` on ``<store>/LOCK``.

The kernel releases an flock when its holder dies (even by SIGKILL), so a crashed writer never
leaves a stale lock behind. The holder writes its pid and host into the file so the error a
second writer gets can say who holds it.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading

from vmcore_event_store.file.errors import StoreLockedError

__all__ = ["WriterLock"]


class WriterLock:
    """Non-blocking exclusive lock on one store directory, held at most once per process."""

    def __init__(self, store_path: str) -> None:
        self.store_path = store_path
        self.path = os.path.join(store_path, "LOCK")
        self._fd: int | None = None
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Takes the lock if it is free; returns whether this process now holds it."""
        with self._mutex:
            if self._fd is not None:
                return True
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
            self._fd = fd
            return True

    def acquire(self) -> None:
        """Takes the lock or raises :class:`StoreLockedError` naming the holder."""
        if not self.try_acquire():
            raise StoreLockedError(self.store_path, self.path, self._holder())

    def release(self) -> None:
        with self._mutex:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None

    def forget_after_fork(self) -> None:
        """Closes an inherited descriptor without unlocking (the parent still holds it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._mutex = threading.Lock()

    def _holder(self) -> str:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                return f.read().strip() or "unknown holder"
        except OSError:
            return "unknown holder"
