"""eventsourcing's SQLite application recorder, plus ``insert_notifications`` for store copy
and ``subscribe``.

Usable as ``APPLICATION_RECORDER_TOPIC=vmcore_event_store.sqlite_recorder:
VmcoreSQLiteApplicationRecorder`` with ``PERSISTENCE_MODULE=eventsourcing.sqlite``;
``vmcore_event_store.copy`` also uses :func:`sqlite_insert_notifications` directly on a plain
eventsourcing SQLite recorder, so any eventsourcing SQLite database can be a copy target.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification, Subscription
from eventsourcing.sqlite import SQLiteApplicationRecorder

from vmcore_event_store.polling import PollingSubscription

__all__ = ["VmcoreSQLiteApplicationRecorder", "sqlite_insert_notifications"]


def sqlite_insert_notifications(
    recorder: SQLiteApplicationRecorder, notifications: Sequence[Notification]
) -> None:
    """Stores notifications under their own ids (SQLite rowids), atomically.

    Raises eventsourcing's ``IntegrityError`` when an id or (originator id, version) exists.
    Later ordinary inserts continue after the highest rowid.
    """
    if not notifications:
        return
    statement = (
        f"INSERT INTO {recorder.events_table_name} "
        "(rowid, originator_id, originator_version, topic, state) VALUES (?,?,?,?,?)"
    )
    rows = [
        (
            n.id,
            n.originator_id.hex if isinstance(n.originator_id, UUID) else n.originator_id,
            n.originator_version,
            n.topic,
            n.state,
        )
        for n in notifications
    ]
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.executemany(statement, rows)


class VmcoreSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite application recorder that can also store given ids, and be
    followed (``subscribe``, polling ``max_notification_id``)."""

    poll_interval: float = 0.1

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return PollingSubscription(
            self, gt, topics, interval=self.poll_interval, probe=self.max_notification_id
        )

    def insert_notifications(self, notifications: Sequence[Notification]) -> None:
        """Stores notifications under their own ids (see :func:`sqlite_insert_notifications`)."""
        sqlite_insert_notifications(self, notifications)
