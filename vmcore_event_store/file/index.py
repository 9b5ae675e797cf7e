"""The in-memory index of a log's tail: what was read after the persistent checkpoint.

It holds the tail's notifications in id order, a per-aggregate version index and the
highest tracking id per upstream application (of the whole log: it starts from the
checkpoint's). It is not thread-safe by itself: the log serialises access to it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent, Tracking

from vmcore_event_store.event_fields import IndexedQuery, extract
from vmcore_event_store.file.framing import Commit

__all__ = ["LogIndex", "originator_key"]


def originator_key(originator_id: UUID | str) -> str:
    return originator_id if type(originator_id) is str else str(originator_id)


class _Stream:
    __slots__ = ("by_version", "versions")

    def __init__(self) -> None:
        self.versions: list[int] = []
        self.by_version: dict[int, StoredEvent] = {}

    def add(self, n: Notification) -> None:
        v = n.originator_version
        if not self.versions or v > self.versions[-1]:
            self.versions.append(v)
        else:
            insort(self.versions, v)
        self.by_version[v] = StoredEvent(n.originator_id, v, n.topic, n.state)


class LogIndex:
    """Committed notifications, by id and by (originator, version)."""

    def __init__(self, base_max_id: int = 0, max_tracking: dict[str, int] | None = None) -> None:
        self.notifications: list[Notification] = []
        self.ids: list[int] = []
        self.streams: dict[str, _Stream] = {}
        self.max_tracking: dict[str, int] = dict(max_tracking or {})
        self.base_max_id = base_max_id
        """The highest notification id before the tail (the checkpoint's)."""

    @property
    def max_id(self) -> int:
        return self.ids[-1] if self.ids else self.base_max_id

    def __len__(self) -> int:
        return len(self.ids)

    def apply(self, commit: Commit) -> None:
        streams = self.streams
        last_oid: UUID | str | None = None
        stream = _Stream()
        for n in commit.notifications:
            if n.originator_id is not last_oid:  # batches are usually one aggregate's
                last_oid = n.originator_id
                key = originator_key(last_oid)
                found = streams.get(key)
                if found is None:
                    found = streams[key] = _Stream()
                stream = found
            stream.add(n)
            self.notifications.append(n)
            self.ids.append(n.id)
        t = commit.tracking
        if t is not None:
            self.max_tracking[t.application_name] = t.notification_id

    def check_new(
        self,
        events: Sequence[StoredEvent],
        pending: set[tuple[str, int]],
    ) -> list[tuple[str, int]]:
        """Raises IntegrityError if any event exists, is pending or repeats in the batch."""
        keys = []
        streams = self.streams
        last_oid: UUID | str | None = None
        key = ""
        stream: _Stream | None = None
        for e in events:
            if e.originator_id is not last_oid:
                last_oid = e.originator_id
                key = originator_key(last_oid)
                stream = streams.get(key)
            version = e.originator_version
            if stream is not None and version in stream.by_version:
                msg = f"Stored event already recorded: {e}"
                raise IntegrityError(msg)
            keys.append((key, version))
        if len(set(keys)) < len(keys) or (pending and not pending.isdisjoint(keys)):
            msg = f"Stored events are not unique: {events}"
            raise IntegrityError(msg)
        return keys

    @staticmethod
    def check_tracking(tracking: Tracking | None, max_tracking: dict[str, int]) -> None:
        if tracking is None:
            return
        current = max_tracking.get(tracking.application_name)
        if current is not None and current >= tracking.notification_id:
            msg = (
                f"Tracking notification ID {tracking.notification_id} "
                f"not greater than current max tracking ID {current}"
            )
            raise IntegrityError(msg)

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None,
        lte: int | None,
        desc: bool,
        limit: int | None,
    ) -> list[StoredEvent]:
        stream = self.streams.get(originator_key(originator_id))
        if stream is None:
            return []
        versions = stream.versions
        lo = 0 if gt is None else bisect_right(versions, gt)
        hi = len(versions) if lte is None else bisect_right(versions, lte)
        if lo >= hi:
            return []
        if desc:
            stop = lo if limit is None else max(lo, hi - limit)
            chosen = versions[stop:hi][::-1]
        else:
            chosen = versions[lo:hi] if limit is None else versions[lo : min(hi, lo + limit)]
        by_version = stream.by_version
        return [by_version[v] for v in chosen]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None,
        topics: Sequence[str],
        inclusive_of_start: bool,
    ) -> list[Notification]:
        if start is None:
            lo = 0
        elif inclusive_of_start:
            lo = bisect_left(self.ids, start)
        else:
            lo = bisect_right(self.ids, start)
        hi = len(self.ids) if stop is None else bisect_right(self.ids, stop)
        if not topics:
            return self.notifications[lo : min(hi, lo + max(limit, 0))]
        wanted = set(topics)
        result = []
        for n in self.notifications[lo:hi]:
            if n.topic in wanted:
                result.append(n)
                if len(result) >= limit:
                    break
        return result

    def query(self, query: IndexedQuery, start: int, limit: int) -> list[Notification]:
        """The tail's notifications from ``start`` matching ``query`` (decoding each state)."""
        result: list[Notification] = []
        if limit <= 0:
            return result
        for n in self.notifications[bisect_left(self.ids, start) :]:
            if query.matches(n.topic, originator_key(n.originator_id), extract(n.state)):
                result.append(n)
                if len(result) >= limit:
                    break
        return result
