"""The store's inter-process writer lock: ``flock(LOCK_EX)`` on ``<store>/LOCK``, per append.

A writer holds it only while it appends (catch up, check, write, sync), as SQLite holds its
write lock for a transaction, so any number of processes may write to one store. Readers
never take it and never open ``LOCK``, so a store that may be read but not written can be
read. The kernel releases an flock when its holder dies (even by SIGKILL): a crashed writer
never leaves a stale lock.

The holder stamps ``pid N on HOST`` into the file so that a writer that waited too long can
say who holds it. The stamp is one fixed-width ``pwrite`` over the previous one, never a
truncate-then-write, so the file is never empty while it is rewritten.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time

from vmcore_event_store.file.errors import StoreLockedError

__all__ = ["WriterLock"]

STAMP_BYTES = 128


def _stamp() -> bytes:
    text = f"pid {os.getpid()} on {socket.gethostname()}"[: STAMP_BYTES - 1]
    return text.ljust(STAMP_BYTES - 1).encode() + b"\n"


class WriterLock:
    """Exclusive inter-process lock on one store directory, taken per append.

    Threads of one process are serialised by a mutex in front of the flock (an flock belongs
    to the open file description, which all threads share).
    """

    def __init__(self, store_path: str, timeout: float = 30.0) -> None:
        self.store_path = store_path
        self.path = os.path.join(store_path, "LOCK")
        self.timeout = timeout
        self._fd: int | None = None
        self._mutex = threading.Lock()
        self._held = False
        self._held_fd: int | None = None
        self._stamp = b""
        self._stamp_pid = -1

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self) -> None:
        """Takes the lock, waiting at most ``timeout`` seconds, else StoreLockedError."""
        deadline = time.monotonic() + self.timeout
        if not self._mutex.acquire(timeout=self.timeout):
            raise StoreLockedError(self.store_path, self.path, "another thread of this process")
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fd = self._fd
            except BlockingIOError:
                fd = self._wait(deadline)
            if self._stamp_pid != os.getpid():
                self._stamp, self._stamp_pid = _stamp(), os.getpid()
            os.pwrite(fd, self._stamp, 0)
            self._held_fd = fd
            self._held = True
        except BaseException:
            self._mutex.release()
            raise

    def _wait(self, deadline: float) -> int:
        """Waits in a blocking ``flock`` (woken by the kernel the moment the holder releases)
        on a description of its own, in a helper thread so that the wait can time out; an
        abandoned wait releases the lock as soon as it gets it."""
        fd = os.open(self.path, os.O_RDWR)
        got = threading.Event()
        state = {"abandoned": False}
        guard = threading.Lock()

        def wait() -> None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with guard:
                if state["abandoned"]:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
                else:
                    got.set()

        threading.Thread(target=wait, name="vmcore-file-lock-wait", daemon=True).start()
        if got.wait(max(0.0, deadline - time.monotonic())):
            return fd
        with guard:
            if got.is_set():
                return fd
            state["abandoned"] = True
        raise StoreLockedError(self.store_path, self.path, self._holder())

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        fd, self._held_fd = self._held_fd, None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                if fd != self._fd:
                    os.close(fd)
        finally:
            self._mutex.release()

    def close(self) -> None:
        with self._mutex:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def forget_after_fork(self) -> None:
        """In a forked child: closes the inherited descriptor without unlocking it."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._held = False
        self._mutex = threading.Lock()

    def _holder(self) -> str:
        try:
            with open(self.path, "rb") as f:
                text = f.read().decode("utf-8", "replace").strip(" \n\0")
        except OSError:
            return "unknown holder"
        return text or "unknown holder"
