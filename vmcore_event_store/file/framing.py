"""On-disk record format: length-framed, checksummed commit records.

A segment file is a sequence of records. Each record is one atomic commit::

    magic "VMR1" | payload length u32 | payload crc32 u32 | header crc32 u32 | payload

The header checksum covers magic, length and payload checksum, so a damaged length can
never make the reader skip acknowledged records. A payload is either a *commit* (the events
of one ``insert_events`` call, each with its notification id, plus an optional tracking
position) or a *seal* (the segment is full; continue in the next segment).

:func:`scan` parses a buffer and classifies what follows the last good record: nothing,
a *torn tail* (an append cut short: incomplete header or payload, or zero fill) or a
*corrupt* record (complete but failing its checks), which is always an error.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from enum import Enum
from typing import NamedTuple
from uuid import UUID

from eventsourcing.persistence import Notification, Tracking

__all__ = [
    "HEADER_SIZE",
    "Commit",
    "ScanResult",
    "TailState",
    "encode_commit",
    "encode_seal",
    "scan",
]

_MAGIC = b"VMR1"
_HEADER = struct.Struct("<4sIII")
HEADER_SIZE = _HEADER.size
_HEADER_PREFIX = struct.Struct("<4sII")

_KIND_COMMIT = 1
_KIND_SEAL = 2
_COMMIT_HEAD = struct.Struct("<BI")  # kind, number of events
_TRACKING = struct.Struct("<QH")  # notification id, name length
_EVENT_UUID = struct.Struct("<QB16sqHI")  # id, kind 0, uuid bytes, version, topic len, state len
_EVENT_STR = struct.Struct("<QBHqHI")  # id, kind 1, id len, version, topic len, state len
_NO_TRACKING = b"\x00"


# Records are NamedTuples, not frozen dataclasses: building a dataclass costs ~1 ms of every
# command's start-up (the CLI imports this module to open a file store).
class Commit(NamedTuple):
    """One decoded commit record."""

    notifications: Sequence[Notification]
    tracking: Tracking | None


class TailState(Enum):
    CLEAN = "clean"
    TORN = "torn"
    CORRUPT = "corrupt"


class ScanResult(NamedTuple):
    commits: list[Commit]
    end: int
    """Offset just after the last good record."""
    sealed: bool
    """A seal record was read: the segment is complete."""
    tail: TailState
    reason: str = ""


def _frame(payload: bytes) -> bytes:
    prefix = _HEADER_PREFIX.pack(_MAGIC, len(payload), zlib.crc32(payload))
    return prefix + struct.pack("<I", zlib.crc32(prefix)) + payload


def encode_seal() -> bytes:
    """A record saying "this segment is complete"."""
    return _frame(bytes([_KIND_SEAL]))


def encode_commit(notifications: Sequence[Notification], tracking: Tracking | None) -> bytes:
    """Frames one commit: the given notifications (ids already assigned) and tracking."""
    parts = [_COMMIT_HEAD.pack(_KIND_COMMIT, len(notifications))]
    if tracking is None:
        parts.append(_NO_TRACKING)
    else:
        name = tracking.application_name.encode()
        parts.append(b"\x01" + _TRACKING.pack(tracking.notification_id, len(name)) + name)
    for n in notifications:
        topic = n.topic.encode()
        oid = n.originator_id
        if isinstance(oid, UUID):
            parts.append(
                _EVENT_UUID.pack(n.id, 0, oid.bytes, n.originator_version, len(topic), len(n.state))
            )
        else:
            raw = oid.encode()
            parts.append(
                _EVENT_STR.pack(n.id, 1, len(raw), n.originator_version, len(topic), len(n.state))
            )
            parts.append(raw)
        parts.append(topic)
        parts.append(n.state)
    return _frame(b"".join(parts))


def _decode_commit(payload: bytes) -> Commit:
    _, count = _COMMIT_HEAD.unpack_from(payload, 0)
    pos = _COMMIT_HEAD.size
    tracking: Tracking | None = None
    if payload[pos] == 1:
        nid, name_len = _TRACKING.unpack_from(payload, pos + 1)
        pos += 1 + _TRACKING.size
        tracking = Tracking(payload[pos : pos + name_len].decode(), nid)
        pos += name_len
    else:
        pos += 1
    notifications = []
    for _ in range(count):
        oid: UUID | str
        if payload[pos + 8] == 0:
            nid, _k, raw, version, topic_len, state_len = _EVENT_UUID.unpack_from(payload, pos)
            pos += _EVENT_UUID.size
            oid = UUID(bytes=raw)
        else:
            nid, _k, id_len, version, topic_len, state_len = _EVENT_STR.unpack_from(payload, pos)
            pos += _EVENT_STR.size
            oid = payload[pos : pos + id_len].decode()
            pos += id_len
        topic = payload[pos : pos + topic_len].decode()
        pos += topic_len
        state = payload[pos : pos + state_len]
        pos += state_len
        notifications.append(Notification(oid, version, topic, state, nid))
    if pos != len(payload):
        msg = f"payload has {len(payload) - pos} unexpected trailing bytes"
        raise ValueError(msg)
    return Commit(notifications, tracking)


def scan(buf: bytes | memoryview, start: int = 0) -> ScanResult:
    """Parses records from ``buf[start:]`` up to the first seal, bad record or the end."""
    view = memoryview(buf)
    size = len(view)
    pos = start
    commits: list[Commit] = []
    while pos < size:
        if size - pos < HEADER_SIZE:
            return ScanResult(commits, pos, False, TailState.TORN, "incomplete header")
        magic, length, crc, hcrc = _HEADER.unpack_from(view, pos)
        if magic != _MAGIC or zlib.crc32(view[pos : pos + 12]) != hcrc:
            if not bytes(view[pos:]).strip(b"\0"):
                return ScanResult(commits, pos, False, TailState.TORN, "zero-filled tail")
            return ScanResult(commits, pos, False, TailState.CORRUPT, "bad record header")
        body_start = pos + HEADER_SIZE
        if size - body_start < length:
            return ScanResult(commits, pos, False, TailState.TORN, "incomplete payload")
        payload = bytes(view[body_start : body_start + length])
        if zlib.crc32(payload) != crc:
            return ScanResult(commits, pos, False, TailState.CORRUPT, "payload checksum mismatch")
        if payload[:1] == bytes([_KIND_SEAL]):
            return ScanResult(commits, body_start + length, True, TailState.CLEAN)
        try:
            commits.append(_decode_commit(payload))
        except (ValueError, struct.error, IndexError, UnicodeDecodeError) as e:
            return ScanResult(commits, pos, False, TailState.CORRUPT, f"undecodable payload: {e}")
        pos = body_start + length
    return ScanResult(commits, pos, False, TailState.CLEAN)
