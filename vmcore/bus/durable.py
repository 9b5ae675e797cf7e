"""Durable subscriptions: follow an eventsourcing application's notification log.

A durable subscription reads the store's notification log (eventsourcing's
:class:`~eventsourcing.projection.ApplicationSubscription`) from the position recorded in a
tracking recorder, so after a restart it catches up from where it stopped, then follows live
events: Postgres wakes it with LISTEN/NOTIFY, the POPO store with an in-process signal, and
stores without push (SQLite, files) are polled, and woken at once when the same process
publishes the committed event on the bus.

Delivery guarantees depend on the handler:

* a plain ``handler(event)``: *at least once*. The position is recorded after the handler
  returns (every ``track_every`` events, and when the subscription stops), so a crash
  replays the events handled since the last recorded position: one event with the default
  ``track_every=1``, up to ``track_every`` otherwise.
* an eventsourcing :class:`~eventsourcing.projection.Projection` (or
  :class:`~eventsourcing.projection.EventSourcedProjection`): *exactly once in its view*. Its
  ``process_event(event, tracking)`` writes the effect and the tracking record in one
  transaction of the same store (process-recorder style), so a replayed event is refused by
  the tracking uniqueness check and the effect cannot be applied twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    ListenNotifySubscription,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.projection import ApplicationSubscription, EventSourcedProjection, Projection

from vmcore.bus.clock import Clock, SystemClock
from vmcore.bus.dead_letters import DeadLetter, DeadLetterQueue
from vmcore.bus.migration import Upcaster
from vmcore.bus.retry import NO_RETRY, RetryPolicy
from vmcore.bus.topics import topic_matches
from vmcore.domain.runtime import topic_of

_log = logging.getLogger(__name__)

DurableHandler = Callable[[Any], Any] | Projection[Any] | EventSourcedProjection[Any]


class _PollingSubscription(ListenNotifySubscription[ApplicationRecorder]):
    """eventsourcing's pull loop for recorders without push: wakes every ``interval``
    seconds, or at once on :meth:`notify`."""

    def __init__(
        self, recorder: ApplicationRecorder, gt: int | None, topics: Sequence[str], interval: float
    ) -> None:
        self._interval = interval
        super().__init__(recorder=recorder, gt=gt, topics=topics)

    def notify(self) -> None:
        self._has_been_notified.set()

    def _loop_on_pull(self) -> None:
        try:
            self._pull()
            while not self._has_been_stopped:
                self._has_been_notified.wait(timeout=self._interval)
                self._pull()
        except BaseException as error:
            if self._thread_error is None:
                self._thread_error = error
            self.stop()


class _LogSubscription(ApplicationSubscription[Any]):
    """:class:`ApplicationSubscription` keyed by the subscriber's tracking name, falling
    back to polling when the recorder cannot push."""

    def __init__(
        self,
        app: Application[Any],
        gt: int | None,
        tracking_name: str,
        store_topics: Sequence[str],
        poll_interval: float,
    ) -> None:
        self.name = tracking_name
        self.recorder = app.recorder
        self.mapper = app.mapper
        try:
            self.subscription = self.recorder.subscribe(gt=gt, topics=store_topics)
        except NotImplementedError:
            self.subscription = _PollingSubscription(self.recorder, gt, store_topics, poll_interval)

    def notify(self) -> None:
        if isinstance(self.subscription, _PollingSubscription):
            self.subscription.notify()


class DurableSubscription:
    """One named subscriber to an application's notification log. Built by
    :meth:`UnifiedEventBus.subscribe_durable`; call :meth:`stop` (or the bus's) to end it."""

    def __init__(
        self,
        *,
        name: str,
        handler: DurableHandler,
        topics: Sequence[str],
        application: Application[Any],
        view: TrackingRecorder | None = None,
        store_topics: Sequence[str] = (),
        retry: RetryPolicy = NO_RETRY,
        poll_interval: float = 0.1,
        track_every: int = 1,
        upcaster: Upcaster | None = None,
        clock: Clock | None = None,
        dead_letters: DeadLetterQueue | None = None,
    ) -> None:
        self.name = name
        self.tracking_name = f"{application.name}.{name}"
        self.topics = tuple(topics)
        self.handler = handler
        self.view = self._choose_view(handler, view, application)
        self.retry = retry
        self.clock = clock or SystemClock()
        self.upcaster = upcaster
        self.dead_letters = dead_letters if dead_letters is not None else DeadLetterQueue()
        self.processed = 0
        self.track_every = max(1, track_every)
        self._pending: Tracking | None = None
        self._untracked = 0
        self.error: BaseException | None = None
        start = self.view.max_tracking_id(self.tracking_name)
        self._seen = start or 0
        self._progress = threading.Condition()
        self._subscription = _LogSubscription(
            application, start, self.tracking_name, store_topics, poll_interval
        )
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"vmcore-durable-{name}", daemon=True
        )
        self._thread.start()

    @staticmethod
    def _choose_view(
        handler: DurableHandler, view: TrackingRecorder | None, app: Application[Any]
    ) -> TrackingRecorder:
        if isinstance(handler, EventSourcedProjection):
            return handler.recorder
        if isinstance(handler, Projection):
            return handler.view  # type: ignore[no-any-return]
        if view is not None:
            return view
        return app.factory.tracking_recorder()

    @property
    def position(self) -> int | None:
        """The last notification id this subscriber has recorded as processed."""
        return self.view.max_tracking_id(self.tracking_name)

    @property
    def polls(self) -> bool:
        """Whether the store cannot push, so the subscriber polls (and can be woken)."""
        return isinstance(self._subscription.subscription, _PollingSubscription)

    def notify(self) -> None:
        """Pull now (used when this process has just committed and published an event)."""
        self._subscription.notify()

    def wait(self, notification_id: int, timeout: float = 10.0) -> None:
        """Block until this subscriber has dealt with every notification up to
        ``notification_id`` (handled, filtered out or dead-lettered); ``TimeoutError`` if not
        within ``timeout`` seconds, or the subscriber's error if it died."""
        with self._progress:
            done = self._progress.wait_for(
                lambda: self._seen >= notification_id or self.error is not None, timeout
            )
        if self.error is not None:
            raise self.error
        if not done:
            raise TimeoutError(f"{self.name} has not reached notification {notification_id}")

    def stop(self) -> None:
        self._stopped.set()
        self._subscription.stop()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self) -> None:
        try:
            with self._subscription:
                for event, tracking in self._subscription:
                    if self._stopped.is_set():
                        break
                    self._process(event, tracking)
                    with self._progress:
                        self._seen = tracking.notification_id
                        self._progress.notify_all()
            self._record_pending()
        except BaseException as error:
            self.error = error
            _log.exception("durable subscription %s stopped", self.name)
            with self._progress:
                self._progress.notify_all()

    def _process(self, event: Any, tracking: Tracking) -> None:
        if self.upcaster is not None:
            event = self.upcaster(event)
        if self.topics and not any(topic_matches(p, _topic(event)) for p in self.topics):
            if not self._is_projection:
                self._track(tracking)  # skipped events move a plain handler's position too
            return
        attempt = 1
        while True:
            try:
                self._handle(event, tracking)
                self.processed += 1
                return
            except IntegrityError:
                return  # already processed (exactly-once handlers refuse a replay)
            except Exception as error:
                if not self.retry.should_retry(error, attempt):
                    self._dead_letter(event, tracking, error, attempt)
                    return
                self.clock.sleep(self.retry.delay(attempt))
                attempt += 1

    def _handle(self, event: Any, tracking: Tracking) -> None:
        handler = self.handler
        if isinstance(handler, Projection | EventSourcedProjection):
            handler.process_event(event, tracking)
        else:
            handler(event)
            self._track(tracking)

    @property
    def _is_projection(self) -> bool:
        return isinstance(self.handler, Projection | EventSourcedProjection)

    def _track(self, tracking: Tracking) -> None:
        """Record a plain handler's position every ``track_every`` events (and on stop)."""
        self._pending = tracking
        self._untracked += 1
        if self._untracked >= self.track_every:
            self._record_pending()

    def _record_pending(self) -> None:
        if self._pending is not None:
            self.view.insert_tracking(self._pending)
            self._pending = None
            self._untracked = 0

    def _dead_letter(
        self, event: Any, tracking: Tracking, error: BaseException, attempts: int
    ) -> None:
        self.dead_letters.add(
            DeadLetter(
                subscription_id=-tracking.notification_id,
                subscription_name=self.name,
                topic=_topic(event),
                event=event,
                error=error,
                attempts=attempts,
                failed_at=self.clock.now(),
            )
        )
        if self._is_projection:  # a poison event must not block the log
            self.view.insert_tracking(tracking)
        else:
            self._track(tracking)


def _topic(event: object) -> str:
    try:
        return topic_of(event)
    except TypeError:
        return type(event).__qualname__


class WakeOnPublish:
    """A bus handler that wakes a durable subscriber when this process publishes a matching
    (committed) event, so polled stores deliver without waiting for the next poll."""

    __slots__ = ("durable",)

    def __init__(self, durable: DurableSubscription) -> None:
        self.durable = durable

    def __call__(self, event: object) -> None:
        self.durable.notify()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WakeOnPublish) and other.durable is self.durable

    def __hash__(self) -> int:
        return id(self.durable)
