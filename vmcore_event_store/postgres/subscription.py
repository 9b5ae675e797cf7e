"""A subscription that tails the notification log by polling the highest committed id.

vmcore's writers do not ``NOTIFY``: PostgreSQL serialises every notifying commit behind a
database-wide lock held through the WAL flush, which would undo the parallel commits the
recorder is built for. Instead a small thread reads ``max(notification_id)`` (an index
lookup) every ``interval`` seconds and wakes the puller when it moved; the puller reads
through the recorder's gap-safe ``select_notifications``.
"""

from __future__ import annotations

from collections.abc import Sequence
from threading import Event, Thread
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, ListenNotifySubscription

__all__ = ["PollingSubscription"]


class PollingSubscription(ListenNotifySubscription[ApplicationRecorder]):
    """Iterates over notifications after ``gt``, then waits for new ones (polling)."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
        *,
        interval: float = 0.02,
    ) -> None:
        self._interval = interval
        self._stopped = Event()
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._poll_thread = Thread(target=self._poll, daemon=True)
        self._poll_thread.start()

    def stop(self) -> None:
        super().stop()
        self._stopped.set()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._poll_thread.join()

    def _poll(self) -> None:
        last_seen: int | None = None
        try:
            while not self._has_been_stopped and not self._thread_error:
                current = self._recorder.max_notification_id()
                if current != last_seen:
                    last_seen = current
                    self._has_been_notified.set()
                self._stopped.wait(self._interval)  # an interruptible pause between polls
        except BaseException as e:
            if self._thread_error is None:
                self._thread_error = e
            self.stop()
