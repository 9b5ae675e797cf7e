"""Reads of an event log: the persistent index up to its checkpoint, then the tail in memory.

Every read first catches up with the segment files (``_refresh``), then asks the index file
for notification ids up to the checkpoint (``_upto``) and the in-memory index for the rest.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from vmcore_event_store.event_fields import IndexedQuery
from vmcore_event_store.file.checkpoint import IndexFile
from vmcore_event_store.file.errors import FileStoreError
from vmcore_event_store.file.index import LogIndex

__all__ = ["LogReads"]


class LogReads:
    """The read half of :class:`~vmcore_event_store.file.log.EventLog`."""

    directory: str
    _lock: threading.RLock
    _index: LogIndex
    _index_file: IndexFile | None
    _upto: int

    def _refresh(self) -> None:
        raise NotImplementedError

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None,
        lte: int | None,
        desc: bool,
        limit: int | None,
    ) -> list[StoredEvent]:
        with self._lock:
            self._refresh()
            tail = self._index.select_events(originator_id, gt, lte, desc, limit)
            if self._index_file is None:
                return tail
            try:
                found = self._index_file.select_events(
                    originator_id, gt, lte, desc, limit, self._upto
                )
            except sqlite3.Error as e:
                raise self._index_error(e) from e
            if not tail:
                return found
            merged = sorted(found + tail, key=lambda e: e.originator_version, reverse=desc)
            return merged if limit is None else merged[:limit]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None,
        topics: Sequence[str],
        inclusive_of_start: bool,
    ) -> list[Notification]:
        with self._lock:
            self._refresh()
            found: list[Notification] = []
            if self._index_file is not None and (start is None or start <= self._upto):
                try:
                    found = self._index_file.select_notifications(
                        start, limit, stop, topics, inclusive_of_start, self._upto
                    )
                except sqlite3.Error as e:
                    raise self._index_error(e) from e
            if len(found) >= limit:
                return found
            tail = self._index.select_notifications(
                start, limit - len(found), stop, topics, inclusive_of_start
            )
            return found + tail if found else tail

    def query_notifications(
        self, query: IndexedQuery, start: int, limit: int
    ) -> list[Notification]:
        with self._lock:
            self._refresh()
            found: list[Notification] = []
            if self._index_file is not None and start <= self._upto:
                try:
                    found = self._index_file.query(query, start, limit, self._upto)
                except sqlite3.Error as e:
                    raise self._index_error(e) from e
            if len(found) >= limit:
                return found
            tail = self._index.query(query, max(start, self._upto + 1), limit - len(found))
            return found + tail

    def _index_error(self, error: sqlite3.Error) -> FileStoreError:
        msg = (
            f"file store index of {self.directory} failed ({error}); "
            "rebuild it with `vmcore store reindex`"
        )
        return FileStoreError(msg)

    def max_notification_id(self) -> int | None:
        with self._lock:
            self._refresh()
            return self._index.max_id or None

    def max_tracking_id(self, application_name: str) -> int | None:
        with self._lock:
            self._refresh()
            return self._index.max_tracking.get(application_name)

