"""PostgreSQL subscriptions: the store-wide polling subscription, probing the highest
committed id.

vmcore's writers do not ``NOTIFY``: PostgreSQL serialises every notifying commit behind a
database-wide lock held through the WAL flush, which would undo the parallel commits the
recorder is built for. Instead the poll thread reads ``max(notification_id)`` (an index
lookup) every ``interval`` seconds and wakes the puller when it moved; the puller reads
through the recorder's gap-safe ``select_notifications``.
"""

from __future__ import annotations

from vmcore_event_store.polling import PollingSubscription

__all__ = ["PollingSubscription"]
