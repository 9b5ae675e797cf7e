"""The position of one process in a log directory's segment files, and the writes at its end.

A :class:`SegmentCursor` reads what was appended after its position (by any process) and,
when its owner holds the store's writer lock, appends, repairs a torn tail and starts new
segments. It never writes without that lock, so the rules are:

- **Reading** (any process, no lock, no write permission needed): records after the
  position are parsed and handed to ``apply``. An incomplete record at the end is an append
  in progress (or a torn tail nobody repaired yet): the cursor stops before it and reads it
  again next time. A reader *never* truncates.
- **A segment switch seen from a reader.** The writer writes and syncs the seal *before* it
  creates the next segment, so a reader that finds the next segment while its segment looks
  unsealed may only have read the size before the seal landed: it reads again, and only a
  segment that is still unsealed after that is corrupt.
- **Repair** happens only in :meth:`catch_up` with ``repair=True``, which the caller may
  pass only while holding the writer lock: the scan that finds the torn tail is made under
  the lock, so no other writer can have appended after it.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable

from vmcore_event_store.file.errors import CorruptRecordError, TornTailWarning
from vmcore_event_store.file.framing import Commit, TailState, encode_seal, scan

__all__ = ["SegmentCursor", "fsync_dir", "segment_numbers"]

_log = logging.getLogger(__name__)
SUFFIX = ".seg"


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def segment_numbers(directory: str) -> list[int]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(
        int(name[: -len(SUFFIX)])
        for name in names
        if name.endswith(SUFFIX) and name[: -len(SUFFIX)].isdigit()
    )


class SegmentCursor:
    """This process's read position (segment number, offset) in one log directory."""

    def __init__(self, directory: str, segment_no: int = 1, end: int = 0) -> None:
        self.directory = directory
        self.segment_no = segment_no
        self.end = end
        self.sealed = False
        self.fd = -1
        self.writable = False

    def path(self, number: int | None = None) -> str:
        return os.path.join(self.directory, f"{number or self.segment_no:012d}{SUFFIX}")

    def _open(self, number: int, *, create: bool) -> None:
        flags = os.O_RDWR if self.writable or create else os.O_RDONLY
        if create:
            os.makedirs(self.directory, exist_ok=True)
            flags |= os.O_CREAT
        fd = os.open(self.path(number), flags, 0o644)
        if create:
            os.fsync(fd)
            fsync_dir(self.directory)
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.segment_no, self.end, self.sealed = fd, number, 0, False

    def resume(self, segment_no: int, end: int, sealed: bool) -> None:
        """Continues from a checkpointed position (the next read starts there)."""
        self.close()
        self.segment_no, self.end, self.sealed = segment_no, end, sealed
        self.fd = os.open(self.path(), os.O_RDWR if self.writable else os.O_RDONLY)

    def make_writable(self) -> None:
        """Reopens the current segment for writing (the caller holds the writer lock)."""
        if self.writable:
            return
        self.writable = True
        if self.fd >= 0:
            fd = os.open(self.path(), os.O_RDWR)
            os.close(self.fd)
            self.fd = fd

    def catch_up(self, apply: Callable[[Commit], None], *, repair: bool, check: bool) -> int:
        """Applies records appended after the position; returns how many.

        ``repair`` (writer lock held): truncate a torn tail, create a missing next segment.
        ``check``: also look for a next segment when nothing new was read (on open).
        """
        applied = 0
        while True:
            if self.fd < 0:
                if not os.path.exists(self.path()):
                    if not repair:
                        return applied
                    self._open(self.segment_no, create=True)
                else:
                    self._open(self.segment_no, create=False)
            if self.sealed:
                following = self.segment_no + 1
                exists = os.path.exists(self.path(following))
                if not exists and not repair:
                    return applied
                self._open(following, create=not exists)
                continue
            size = os.fstat(self.fd).st_size
            tail = TailState.CLEAN
            reason = ""
            if size > self.end:
                result = scan(os.pread(self.fd, size - self.end, self.end))
                for commit in result.commits:
                    apply(commit)
                applied += len(result.commits)
                offset = self.end + result.end
                if result.tail is TailState.CORRUPT:
                    raise CorruptRecordError(self.path(), offset, result.reason)
                self.end = offset
                if result.sealed:
                    self.sealed = True
                    continue
                tail, reason = result.tail, result.reason
            elif not (check or repair):
                return applied
            if os.path.exists(self.path(self.segment_no + 1)):
                if os.fstat(self.fd).st_size != size:
                    # The seal landed after our fstat (the writer seals, then creates the
                    # next segment): read again before calling anything corrupt.
                    continue
                reason = reason or "segment ends without a seal record"
                raise CorruptRecordError(self.path(), self.end, f"unsealed segment: {reason}")
            if tail is TailState.TORN and repair:
                self._truncate(size, reason)
            return applied

    def _truncate(self, size: int, reason: str) -> None:
        self.make_writable()
        os.ftruncate(self.fd, self.end)
        os.fsync(self.fd)
        message = (
            f"truncated torn tail of {self.path()} at offset {self.end} "
            f"({size - self.end} bytes, {reason}); it was never acknowledged"
        )
        _log.warning(message)
        warnings.warn(message, TornTailWarning, stacklevel=4)

    def write(self, data: bytes, *, sync: bool, segment_bytes: int) -> bool:
        """Appends ``data`` at the end; seals and rolls over when full.

        Returns whether ``data`` is already synced (a roll-over syncs the segment before
        sealing it); otherwise the caller syncs it (``sync``), possibly after unlocking.
        """
        view = memoryview(data)
        while view:
            written = os.pwrite(self.fd, view, self.end)
            self.end += written
            view = view[written:]
        if self.end < segment_bytes:
            return False
        if sync:
            os.fdatasync(self.fd)
        seal = encode_seal()
        os.pwrite(self.fd, seal, self.end)
        self.end += len(seal)
        os.fdatasync(self.fd)  # the seal is durable before the next segment exists
        self._open(self.segment_no + 1, create=True)
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
