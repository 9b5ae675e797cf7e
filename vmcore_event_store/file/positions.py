"""Tracking positions kept beside the logs, one small durable file per subscriber.

A subscriber's position (the last notification it processed) must be recordable from any
process that reads the store, not only from the writer: a durable subscription usually runs
in a reader process. So positions do not go into the event log (which needs the writer lock)
but into ``<store>/positions/``, one file per tracking name, replaced atomically: the new
position is written to a temporary file, fsynced, renamed over the old one, and the directory
is fsynced. A crash leaves the old position or the new one, never a mix. Writers of the same
name in several processes are serialised by an ``flock`` on a per-name lock file, and a
position never moves backwards (``IntegrityError``, as eventsourcing's tracking contract
requires).
"""

from __future__ import annotations

import fcntl
import os
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import IntegrityError

from vmcore_event_store.file.errors import CorruptRecordError

__all__ = ["PositionFiles"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PositionFiles:
    """The ``positions`` directory of one store."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def path(self, name: str) -> str:
        """The file of ``name``: readable, and unique even for names that differ only in
        characters a file name cannot hold."""
        import hashlib  # here: importing it (OpenSSL) costs every command's start-up

        digest = hashlib.blake2b(name.encode(), digest_size=6).hexdigest()
        return os.path.join(self.directory, f"{_UNSAFE.sub('_', name)[:80]}-{digest}.pos")

    def get(self, name: str) -> int | None:
        """The recorded position of ``name``, or None if it has none."""
        path = self.path(name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        return _decode(path, data, name)

    def put(self, name: str, notification_id: int) -> None:
        """Durably records ``notification_id`` for ``name``; IntegrityError if it is not
        beyond the recorded position."""
        os.makedirs(self.directory, exist_ok=True)
        path = self.path(name)
        with self._locked(path):
            current = self.get(name)
            if current is not None and notification_id <= current:
                msg = f"position of {name!r} is {current}, not before {notification_id}"
                raise IntegrityError(msg)
            temporary = f"{path}.{os.getpid()}.tmp"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, _encode(name, notification_id))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, path)
            _fsync_dir(self.directory)

    @contextmanager
    def _locked(self, path: str) -> Iterator[None]:
        fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _encode(name: str, notification_id: int) -> bytes:
    body = f"{notification_id} {name}".encode()
    return f"{zlib.crc32(body):08x} ".encode() + body + b"\n"


def _decode(path: str, data: bytes, name: str) -> int:
    try:
        crc, body = data.rstrip(b"\n").split(b" ", 1)
        number, stored_name = body.split(b" ", 1)
        if int(crc, 16) != zlib.crc32(body) or stored_name.decode() != name:
            raise ValueError("checksum or name mismatch")
        return int(number)
    except (ValueError, UnicodeDecodeError) as error:
        raise CorruptRecordError(path, 0, f"unreadable position file: {error}") from None
