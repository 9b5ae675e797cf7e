"""The persistent index of one log: ``<log>/index.sqlite``, derived from the segments.

It holds every event of the log up to a *checkpoint* (a position in the segments) with
SQL indexes by notification id, by (originator, version) and by topic, plus the highest
tracking id per upstream application. Opening a store reads the checkpoint, verifies it
against the log and scans only the segments' tail after it; reads combine the index (up to
the checkpoint's notification id) with the in-memory index of the tail.

It is derived data and never trusted blindly:

- the checkpoint records the 32 bytes of the log just before its position; if the segment is
  missing, shorter or different there, the index is *stale* and is rebuilt from the log;
- a file SQLite cannot read (torn, damaged, another format) is rebuilt too;
- it is written in one SQLite transaction (rollback journal, ``synchronous=FULL``), so a
  crash during a checkpoint leaves the previous checkpoint, and it is replaced as a whole by
  renaming a new file over it when rebuilt (``vmcore store reindex``).

SQLite (the standard library's ``sqlite3``) is used because it gives a crash-safe, indexed,
concurrently readable file for free; readers open it read-only (``mode=ro``), so a store
that may only be read can use it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from typing import NamedTuple
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from vmcore_event_store.event_fields import IndexedQuery, extract, utc_key

__all__ = ["INDEX_NAME", "Checkpoint", "IndexFile"]

INDEX_NAME = "index.sqlite"
FORMAT = "vmcore-file-index-2"
FINGERPRINT_BYTES = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    originator TEXT NOT NULL,
    is_uuid INTEGER NOT NULL,
    version INTEGER NOT NULL,
    topic TEXT NOT NULL,
    state BLOB NOT NULL,
    ts TEXT,
    correlation TEXT,
    actor TEXT,
    source TEXT,
    target TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_originator ON events (originator, version);
CREATE INDEX IF NOT EXISTS events_by_topic ON events (topic, id);
CREATE INDEX IF NOT EXISTS events_by_topic_time ON events (topic, ts);
CREATE INDEX IF NOT EXISTS events_by_time ON events (ts);
CREATE INDEX IF NOT EXISTS events_by_correlation ON events (correlation);
CREATE INDEX IF NOT EXISTS events_by_actor ON events (actor);
CREATE INDEX IF NOT EXISTS events_by_source ON events (source);
CREATE INDEX IF NOT EXISTS events_by_target ON events (target);
CREATE TABLE IF NOT EXISTS tracking (name TEXT PRIMARY KEY, max_id INTEGER NOT NULL);
"""


# Records are NamedTuples, not frozen dataclasses: building a dataclass costs ~1 ms of every
# command's start-up (the CLI imports this module to open a file store).
class Checkpoint(NamedTuple):
    """A position in the log covered by the index, and what is known up to it."""

    segment_no: int
    end: int
    sealed: bool
    fingerprint: bytes
    max_id: int

    @property
    def position(self) -> tuple[int, int]:
        return (self.segment_no, self.end)


def _row(n: Notification) -> tuple[object, ...]:
    f = extract(n.state)
    return (
        n.id,
        *_key(n.originator_id),
        n.originator_version,
        n.topic,
        n.state,
        f.ts,
        f.correlation,
        f.actor,
        f.source,
        f.target,
    )


_INSERT = "INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def _key(originator_id: UUID | str) -> tuple[str, int]:
    return (originator_id, 0) if type(originator_id) is str else (str(originator_id), 1)


def _originator(text: str, is_uuid: int) -> UUID | str:
    return UUID(text) if is_uuid else text


def read_fingerprint(path: str, end: int) -> bytes | None:
    """The log's bytes just before ``end`` in segment ``path`` (None if it is too short)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        start = max(0, end - FINGERPRINT_BYTES)
        if os.fstat(fd).st_size < end:
            return None
        return os.pread(fd, end - start, start)
    finally:
        os.close(fd)


class IndexFile:
    """One open ``index.sqlite`` (read-only unless ``writable``)."""

    def __init__(self, path: str, *, writable: bool, create: bool = False) -> None:
        """Opens the file at ``path``; ``create`` makes its tables (only a new file needs
        them: an existing file without them is unreadable, and so rebuilt)."""
        self.path = path
        self.writable = writable
        self._full_syncs = False
        # ``timeout`` is SQLite's busy timeout (set by the driver: no statement to run).
        if writable:
            # The rollback journal (SQLite's default, never changed here); full syncs are
            # asked for before the first write (see _before_writing): opening a store to
            # read it then costs one statement less per log.
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                       timeout=0.2)
            if create:
                self._before_writing()
                self._db.executescript(_SCHEMA)
        else:
            uri = f"file:{path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=0.2)

    def _before_writing(self) -> None:
        if not self._full_syncs:
            self._db.execute("PRAGMA synchronous=FULL")
            self._full_syncs = True

    @classmethod
    def open(cls, directory: str) -> IndexFile | None:
        """The log's index if it exists (writable when we may write it), else None."""
        path = os.path.join(directory, INDEX_NAME)
        if not os.path.exists(path):
            return None
        writable = os.access(path, os.W_OK) and os.access(directory, os.W_OK)
        return cls(path, writable=writable)

    def close(self) -> None:
        self._db.close()

    # The checkpoint ---------------------------------------------------------------------

    def load(self) -> tuple[Checkpoint, dict[str, int]] | None:
        """The checkpoint and tracking maxima (raises sqlite3.Error if unreadable)."""
        # One statement for both tables: on a freshly opened connection each costs a
        # noticeable part of opening a store.
        found = self._db.execute("SELECT 0, key, value FROM meta"
                                 " UNION ALL SELECT 1, name, max_id FROM tracking").fetchall()
        rows = {key: value for table, key, value in found if table == 0}
        if rows.get("format") != FORMAT:
            return None
        checkpoint = Checkpoint(
            int(rows["segment_no"]),
            int(rows["end"]),
            bool(rows["sealed"]),
            bytes(rows["fingerprint"]),
            int(rows["max_id"]),
        )
        tracking = {name: max_id for table, name, max_id in found if table == 1}
        return checkpoint, tracking

    def save(
        self,
        checkpoint: Checkpoint,
        notifications: Iterable[Notification],
        tracking: dict[str, int],
    ) -> bool:
        """Adds events up to ``checkpoint`` in one transaction; False if SQLite is busy."""
        db = self._db
        self._before_writing()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return False  # another process is checkpointing or reading: try again later
        try:
            current = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if current.get("format") == FORMAT and (
                int(current["segment_no"]),
                int(current["end"]),
            ) >= checkpoint.position:
                db.execute("ROLLBACK")
                return True  # someone else got further
            db.executemany("INSERT OR IGNORE " + _INSERT, (_row(n) for n in notifications))
            db.executemany(
                "INSERT INTO tracking VALUES (?, ?) ON CONFLICT (name) DO UPDATE "
                "SET max_id = max(max_id, excluded.max_id)",
                tracking.items(),
            )
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                (
                    ("format", FORMAT),
                    ("segment_no", checkpoint.segment_no),
                    ("end", checkpoint.end),
                    ("sealed", int(checkpoint.sealed)),
                    ("fingerprint", checkpoint.fingerprint),
                    ("max_id", checkpoint.max_id),
                ),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return True

    # Reads (always bounded by the caller's checkpoint id) -------------------------------

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None,
        lte: int | None,
        desc: bool,
        limit: int | None,
        upto: int,
    ) -> list[StoredEvent]:
        text, _ = _key(originator_id)
        sql = "SELECT version, topic, state FROM events WHERE originator = ? AND id <= ?"
        args: list[object] = [text, upto]
        if gt is not None:
            sql += " AND version > ?"
            args.append(gt)
        if lte is not None:
            sql += " AND version <= ?"
            args.append(lte)
        sql += " ORDER BY version DESC" if desc else " ORDER BY version"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [
            StoredEvent(originator_id, v, t, s) for v, t, s in self._db.execute(sql, args)
        ]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None,
        topics: Sequence[str],
        inclusive_of_start: bool,
        upto: int,
    ) -> list[Notification]:
        sql = "SELECT id, originator, is_uuid, version, topic, state FROM events WHERE id <= ?"
        args: list[object] = [upto if stop is None else min(upto, stop)]
        if start is not None:
            sql += " AND id >= ?" if inclusive_of_start else " AND id > ?"
            args.append(start)
        if topics:
            sql += f" AND topic IN ({','.join('?' * len(topics))})"
            args.extend(topics)
        sql += " ORDER BY id LIMIT ?"
        args.append(max(limit, 0))
        return [
            Notification(_originator(o, u), v, t, s, i)
            for i, o, u, v, t, s in self._db.execute(sql, args)
        ]

    def query(self, query: IndexedQuery, start: int, limit: int, upto: int) -> list[Notification]:
        """Notifications from ``start`` matching ``query``, by index, in id order."""
        # Without statistics SQLite walks (topic, id) in id order and filters on time, which
        # reads every earlier event of the topic; a time range is far more selective.
        timed = query.since is not None or query.until is not None
        hint = ""
        if timed and query.topics:
            hint = " INDEXED BY events_by_topic_time"
        elif timed and query.originator_id is None and query.correlation_id is None:
            hint = " INDEXED BY events_by_time"
        sql = (
            f"SELECT id, originator, is_uuid, version, topic, state FROM events{hint}"
            " WHERE id >= ? AND id <= ?"
        )
        args: list[object] = [start, upto]
        if query.topics:
            sql += f" AND topic IN ({','.join('?' * len(query.topics))})"
            args.extend(query.topics)
        if query.originator_id is not None:
            sql += " AND originator = ?"
            args.append(query.originator_id)
        if query.since is not None:
            sql += " AND ts >= ?"
            args.append(utc_key(query.since))
        if query.until is not None:
            sql += " AND ts <= ?"
            args.append(utc_key(query.until))
        if query.correlation_id is not None:
            sql += " AND correlation = ?"
            args.append(query.correlation_id)
        if query.trn_prefix is not None:
            low, high = query.trn_prefix, query.trn_prefix + "\U0010ffff"
            sql += (
                " AND ((actor >= ? AND actor < ?) OR (source >= ? AND source < ?)"
                " OR (target >= ? AND target < ?))"
            )
            args.extend([low, high] * 3)
        sql += " ORDER BY id LIMIT ?"
        args.append(max(limit, 0))
        return [
            Notification(_originator(o, u), v, t, s, i)
            for i, o, u, v, t, s in self._db.execute(sql, args)
        ]

    def existing(self, keys: Sequence[tuple[UUID | str, int]]) -> list[tuple[UUID | str, int]]:
        """Which of these (originator, version) pairs the index holds."""
        found = []
        for originator_id, version in keys:
            text, _ = _key(originator_id)
            row = self._db.execute(
                "SELECT 1 FROM events WHERE originator = ? AND version = ?", (text, version)
            ).fetchone()
            if row is not None:
                found.append((originator_id, version))
        return found


def create_index(directory: str, temporary: bool = False) -> IndexFile:
    """A new, empty index file (at a temporary name to be renamed in, if ``temporary``)."""
    name = INDEX_NAME + (f".new-{os.getpid()}" if temporary else "")
    path = os.path.join(directory, name)
    for suffix in ("", "-journal"):
        if temporary and os.path.exists(path + suffix):
            os.remove(path + suffix)
    return IndexFile(path, writable=True, create=True)


def build_index(directory: str) -> Checkpoint:
    """Rebuilds ``directory``'s index from its segments (streaming, bounded memory).

    The new file is written under a temporary name and renamed over the old one, so a
    reader never sees a half-built index and a crash leaves the old one (or none).
    """
    from vmcore_event_store.file.framing import Commit
    from vmcore_event_store.file.segments import SegmentCursor, fsync_dir

    index = create_index(directory, temporary=True)
    db = index._db
    buffered: list[Notification] = []
    tracking: dict[str, int] = {}
    max_id = 0

    def flush() -> None:
        db.executemany("INSERT " + _INSERT, (_row(n) for n in buffered))
        buffered.clear()

    def apply(commit: Commit) -> None:
        nonlocal max_id
        buffered.extend(commit.notifications)
        if commit.notifications:
            max_id = commit.notifications[-1].id
        if commit.tracking is not None:
            tracking[commit.tracking.application_name] = commit.tracking.notification_id
        if len(buffered) >= 10_000:
            flush()

    cursor = SegmentCursor(directory)
    try:
        db.execute("BEGIN")
        cursor.catch_up(apply, repair=False, check=True)
        flush()
        db.execute("COMMIT")
        fingerprint = read_fingerprint(cursor.path(), cursor.end) or b""
        checkpoint = Checkpoint(cursor.segment_no, cursor.end, cursor.sealed, fingerprint, max_id)
        if not index.save(checkpoint, (), tracking):
            raise sqlite3.OperationalError(f"could not write {index.path}")
    except BaseException:
        index.close()
        os.remove(index.path)
        raise
    finally:
        cursor.close()
    index.close()
    os.replace(index.path, os.path.join(directory, INDEX_NAME))
    fsync_dir(directory)
    return checkpoint
