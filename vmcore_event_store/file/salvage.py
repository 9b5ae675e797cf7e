"""Salvage a damaged file store: every intact record, and an exact account of what was lost.

Opening a store stops at the first damaged record (``CorruptRecordError``): nothing is
ever skipped silently. When the damage cannot be repaired from a backup, :func:`salvage`
reads the segment files directly, keeps every record whose two checksums hold, and steps
over damage by searching for the next record that checks out (a record header is a magic
plus a checksummed length, and its payload has its own checksum, so a false resync needs
two CRC-32 collisions at once). Each damaged stretch is reported by file, offset and
length; a torn tail (an append cut short, never acknowledged) is reported too.

The intact records are then written to a new store through the ordinary recorder API:
events under their original notification ids (:meth:`insert_notifications`), tracking
positions through the process recorder, snapshots through the snapshot recorder. The
source is only read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import Notification, StoredEvent, Tracking

from vmcore_event_store.file.framing import Commit, TailState, scan

__all__ = ["Loss", "SalvageReport", "read_intact", "salvage"]

_MAGIC = b"VMR1"
_SUFFIX = ".seg"


@dataclass(frozen=True)
class Loss:
    """A stretch of a segment file whose records could not be used."""

    path: str
    offset: int
    length: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path} at offset {self.offset} ({self.length} bytes): {self.reason}"


@dataclass
class SalvageReport:
    events: int = 0
    snapshots: int = 0
    tracking: int = 0
    losses: list[Loss] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Nothing was lost."""
        return not self.losses


def _segments(directory: str) -> list[tuple[int, str]]:
    if not os.path.isdir(directory):
        return []
    numbers = sorted(int(name[: -len(_SUFFIX)]) for name in os.listdir(directory)
                     if name.endswith(_SUFFIX) and name[: -len(_SUFFIX)].isdigit())
    return [(n, os.path.join(directory, f"{n:012d}{_SUFFIX}")) for n in numbers]


def _next_record(buf: bytes, start: int) -> int:
    """The offset of the next record at or after ``start`` that passes its checks (or the
    buffer's length if there is none)."""
    position = buf.find(_MAGIC, start)
    while position >= 0:
        result = scan(buf, position)
        if result.end > position or result.sealed:
            return position
        position = buf.find(_MAGIC, position + 1)
    return len(buf)


def read_intact(directory: str, losses: list[Loss]) -> Iterator[Commit]:
    """Every intact commit of the log in ``directory``, in order; damage goes to ``losses``."""
    segments = _segments(directory)
    expected = 1
    for number, path in segments:
        if number != expected:
            missing = f"{expected:012d}{_SUFFIX}" + (
                "" if number == expected + 1 else f" to {number - 1:012d}{_SUFFIX}")
            losses.append(Loss(os.path.join(directory, missing), 0, 0, "segment files missing"))
        expected = number + 1
        with open(path, "rb") as f:
            buf = f.read()
        position = 0
        while position < len(buf):
            result = scan(buf, position)
            yield from result.commits
            if result.sealed or result.tail is TailState.CLEAN:
                break
            resume = _next_record(buf, result.end + 1)
            reason = result.reason
            if result.tail is TailState.TORN and resume == len(buf):
                reason = f"torn tail ({reason}): an append cut short, never acknowledged"
            losses.append(Loss(path, result.end, resume - result.end, reason))
            position = resume


@dataclass(frozen=True)
class SalvageTarget:
    """Where intact records go: the recorders of the new store."""

    insert_notifications: Callable[[Sequence[Notification]], None]
    insert_tracking: Callable[[Tracking], Any]
    insert_snapshots: Callable[[Sequence[StoredEvent]], Any] | None


def salvage(source: str, target: SalvageTarget) -> SalvageReport:
    """Copies every intact record of the file store at ``source`` to ``target``."""
    report = SalvageReport()
    for commit in read_intact(os.path.join(source, "events"), report.losses):
        if commit.notifications:
            target.insert_notifications(commit.notifications)
            report.events += len(commit.notifications)
        if commit.tracking is not None:
            target.insert_tracking(commit.tracking)
            report.tracking += 1
    if target.insert_snapshots is not None:
        for commit in read_intact(os.path.join(source, "snapshots"), report.losses):
            if commit.notifications:
                target.insert_snapshots(list(commit.notifications))
                report.snapshots += len(commit.notifications)
    return report
