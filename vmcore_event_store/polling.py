"""The one polling subscription of vmcore's stores: file store, PostgreSQL and SQLite.

None of vmcore's stores pushes commits to other processes (PostgreSQL's ``NOTIFY`` would
serialise the parallel commits vmcore's recorder is built for; see docs/postgres-store.md),
so every ``subscribe()`` is eventsourcing's pull loop (:class:`ListenNotifySubscription`)
woken three ways:

* at once by :meth:`PollingSubscription.notify` (the bus calls it when this process has just
  committed and published an event; the file store's log calls it on every commit it makes
  or reads);
* every ``interval`` seconds by a small poll thread that calls the store's cheap ``probe``
  (PostgreSQL: ``max(notification_id)``, an index lookup; the file store: one ``fstat`` to
  catch up with other processes) and wakes the puller when the answer changed; with no
  probe (SQLite) it simply wakes the puller.

An error in the probe or the pull ends the subscription and is raised by the iteration,
as eventsourcing's subscriptions do; surviving an outage is the subscriber's decision (the
bus's durable subscriptions re-subscribe from their recorded position, with backoff).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, ListenNotifySubscription

__all__ = ["PollingSubscription"]

_UNSEEN = object()


class PollingSubscription(ListenNotifySubscription[ApplicationRecorder]):
    """Yields notifications after ``gt`` (of ``topics``), then new ones as they commit."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
        *,
        interval: float = 0.05,
        probe: Callable[[], object] | None = None,
    ) -> None:
        self.interval = interval
        """Seconds between probes (may be changed while it runs)."""
        self._probe = probe
        self._stopped = threading.Event()
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._attach()
        self.notify()  # re-pull: a commit may have landed before _attach()
        self._poll_thread = threading.Thread(
            target=self._poll, name="vmcore-subscription-poll", daemon=True
        )
        self._poll_thread.start()

    def notify(self) -> None:
        """Pull now: something was (or may have been) committed."""
        self._has_been_notified.set()

    def _attach(self) -> None:
        """Hook: register for in-process wake-ups (the file store's log listeners)."""

    def _detach(self) -> None:
        """Hook: undo :meth:`_attach`."""

    def stop(self) -> None:
        super().stop()
        self._stopped.set()
        self._detach()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            if threading.current_thread() is not self._poll_thread:
                self._poll_thread.join()

    def _poll(self) -> None:
        last: object = _UNSEEN
        try:
            while not self._stopped.wait(self.interval):
                if self._probe is None:
                    self.notify()
                    continue
                current = self._probe()
                if current != last:
                    last = current
                    self.notify()
        except BaseException as error:  # raised by __next__, as the pull thread's errors are
            if self._thread_error is None:
                self._thread_error = error
            self.stop()
