"""eventsourcing recorders over the file store's event logs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)

from vmcore_event_store.event_fields import IndexedQuery
from vmcore_event_store.file.log import EventLog
from vmcore_event_store.file.positions import PositionFiles
from vmcore_event_store.file.subscription import FileSubscription

__all__ = [
    "FileAggregateRecorder",
    "FileApplicationRecorder",
    "FileProcessRecorder",
    "FileTrackingRecorder",
]


class _FileRecorder:
    def __init__(self, log: EventLog, *, poll_interval: float = 0.05) -> None:
        self.log = log
        self.poll_interval = poll_interval


class FileAggregateRecorder(_FileRecorder, AggregateRecorder):
    """Aggregate sequences (also used for snapshots, in the ``snapshots`` log)."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if stored_events:
            self.log.append(stored_events, None)
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return self.log.select_events(originator_id, gt, lte, desc, limit)


class FileApplicationRecorder(FileAggregateRecorder, ApplicationRecorder):
    """Aggregate sequences plus the application's notification log."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        return self.log.append(stored_events, None)

    def insert_notifications(self, notifications: Sequence[Notification]) -> None:
        """Inserts already-numbered notifications atomically, preserving their ids.

        Used to copy a store: ids must be strictly increasing and greater than the current
        maximum notification id (else IntegrityError, and nothing is written).
        """
        if notifications:
            self.log.append(notifications, None, ids=[n.id for n in notifications])

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        return self.log.select_notifications(start, limit, stop, topics, inclusive_of_start)

    def max_notification_id(self) -> int | None:
        return self.log.max_notification_id()

    def query_notifications(
        self,
        *,
        start: int = 1,
        limit: int = 100,
        topics: Sequence[str] = (),
        originator_id: UUID | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        correlation_id: str | None = None,
        trn_prefix: str | None = None,
    ) -> Sequence[Notification]:
        """Notifications from ``start`` (in id order) matching every given criterion, by index.

        Times compare with the events' ``timestamp``; ``correlation_id`` and ``trn_prefix``
        (actor, source or target) with their ``meta`` (see ``vmcore_event_store.event_fields``).
        """
        query = IndexedQuery(
            tuple(topics),
            None if originator_id is None else str(originator_id),
            since,
            until,
            correlation_id,
            trn_prefix,
        )
        return self.log.query_notifications(query, start, limit)

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return FileSubscription(self, gt=gt, topics=topics, poll_interval=self.poll_interval)


class FileTrackingRecorder(_FileRecorder, TrackingRecorder):
    """Tracking positions, one small durable file per name in ``<store>/positions/``.

    Any process that reads the store may record positions (no writer lock needed); see
    ``positions.py``. A name with no position file falls back to a position recorded in the
    events log (where earlier versions kept them, and where process recorders keep theirs).
    """

    def __init__(self, log: EventLog, *, poll_interval: float = 0.05) -> None:
        super().__init__(log, poll_interval=poll_interval)
        self.positions = PositionFiles(os.path.join(os.path.dirname(log.directory), "positions"))

    def insert_tracking(self, tracking: Tracking) -> None:
        floor = self.log.max_tracking_id(tracking.application_name)
        if floor is not None and tracking.notification_id <= floor:
            msg = f"position of {tracking.application_name!r} is already {floor}"
            raise IntegrityError(msg)
        self.positions.put(tracking.application_name, tracking.notification_id)

    def max_tracking_id(self, application_name: str) -> int | None:
        recorded = self.positions.get(application_name)
        if recorded is not None:
            return recorded
        return self.log.max_tracking_id(application_name)


class FileProcessRecorder(FileTrackingRecorder, FileApplicationRecorder, ProcessRecorder):
    """Events and the tracking position of the notification that caused them, atomically
    (both in the events log: a process recorder writes, so it holds the writer lock)."""

    def insert_tracking(self, tracking: Tracking) -> None:
        self.log.append((), tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.log.max_tracking_id(application_name)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        if not stored_events and tracking is None:
            return []
        return self.log.append(stored_events, tracking)
