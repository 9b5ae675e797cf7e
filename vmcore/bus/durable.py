"""Durable subscriptions: follow an eventsourcing application's notification log.

A durable subscription reads the store's notification log (eventsourcing's
:class:`~eventsourcing.projection.ApplicationSubscription`) from the position recorded in a
tracking recorder, so after a restart it catches up from where it stopped, then follows live
events through the recorder's ``subscribe()``: the POPO store wakes it with an in-process
signal, vmcore's stores (file, PostgreSQL, SQLite) poll (``vmcore_event_store.polling``) and
are woken at once when the same process publishes the committed event on the bus.

It survives outages: when the store cannot be reached (or a read fails), it closes its
subscription, reports :attr:`DurableState.RETRYING` with the error, waits a growing,
jittered pause and re-subscribes from its recorded position, for as long as it takes. Only
errors that retrying cannot cure (a bug in an upcaster, a recorder that cannot be followed)
stop it for good (:attr:`DurableState.FAILED`).

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

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.projection import ApplicationSubscription, EventSourcedProjection, Projection

from vmcore.bus.clock import Clock, SystemClock
from vmcore.bus.dead_letters import DeadLetter, DeadLetterQueue
from vmcore.bus.durable_status import DurableState, DurableStatus
from vmcore.bus.migration import Upcaster
from vmcore.bus.retry import NO_RETRY, RetryPolicy
from vmcore.bus.topics import topic_matches
from vmcore.domain.runtime import topic_of

_log = logging.getLogger(__name__)

DurableHandler = Callable[[Any], Any] | Projection[Any] | EventSourcedProjection[Any]

OUTAGES: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, OSError)
"""Errors after which a durable subscription re-subscribes instead of giving up: the store
was unreachable, or failed a read or a position write."""

RECONNECT = RetryPolicy.exponential(2**31, 0.1, multiplier=2.0, max_delay=5.0, jitter=0.5)
"""Pauses before re-subscribing: 0.1 s doubling up to 5 s, each reduced by up to half at
random so that many subscribers do not return at the same instant."""


class _LogSubscription(ApplicationSubscription[Any]):
    """:class:`ApplicationSubscription` keyed by the subscriber's tracking name."""

    def __init__(
        self, app: Application[Any], gt: int | None, tracking_name: str,
        store_topics: Sequence[str],
    ) -> None:
        self.name = tracking_name
        self.recorder = app.recorder
        self.mapper = app.mapper
        try:
            self.subscription = self.recorder.subscribe(gt=gt, topics=store_topics)
        except NotImplementedError:
            raise TypeError(
                f"{type(self.recorder).__name__} cannot be followed (it has no subscribe());"
                " use one of vmcore's stores (vmcore.composition.StoreSpec: file, postgres,"
                " sqlite, memory)"
            ) from None

    def notify(self) -> None:
        wake = getattr(self.subscription, "notify", None)
        if wake is not None:
            wake()


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
        poll_interval: float | None = None,
        track_every: int = 1,
        upcaster: Upcaster | None = None,
        clock: Clock | None = None,
        dead_letters: DeadLetterQueue | None = None,
        reconnect: RetryPolicy = RECONNECT,
        pause: Callable[[float], object] | None = None,
    ) -> None:
        self.name = name
        self.tracking_name = f"{application.name}.{name}"
        self.topics = tuple(topics)
        self.handler = handler
        self.application = application
        self.store_topics = tuple(store_topics)
        self.poll_interval = poll_interval
        self.view = self._choose_view(handler, view, application)
        self.retry = retry
        self.reconnect = reconnect
        self.clock = clock or SystemClock()
        self.upcaster = upcaster
        self.dead_letters = dead_letters if dead_letters is not None else DeadLetterQueue()
        self.processed = 0
        self.outages = 0
        self.track_every = max(1, track_every)
        self._pending: Tracking | None = None
        self._untracked = 0
        self.error: BaseException | None = None
        self.last_error: BaseException | None = None
        self._state = DurableState.STARTING
        self._seen = 0
        self._healthy = False
        self._progress = threading.Condition()
        self._stopped = threading.Event()
        self._pause = pause or self._stopped.wait
        self._subscription: _LogSubscription | None = None
        self._subscription_lock = threading.Lock()
        self.polls = True
        """Whether the store cannot push, so the subscriber polls (and can be woken)."""
        try:
            self._open()
        except OUTAGES as error:  # the thread keeps trying
            self._note_outage(error)
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

    # -- what it is doing ---------------------------------------------------------------

    @property
    def position(self) -> int | None:
        """The last notification id this subscriber has recorded as processed."""
        return self.view.max_tracking_id(self.tracking_name)

    @property
    def state(self) -> DurableState:
        return self._state

    def status(self) -> DurableStatus:
        error = self.error or self.last_error
        return DurableStatus(
            name=self.name,
            state=self._state,
            position=self._seen,
            processed=self.processed,
            outages=self.outages,
            last_error=None if error is None else f"{type(error).__name__}: {error}",
        )

    def wait_for(self, condition: Callable[[DurableStatus], bool], timeout: float = 10.0) -> bool:
        """Block until ``condition(self.status())`` holds (re-checked at every change of
        progress or state); False if it did not within ``timeout`` seconds."""
        with self._progress:
            return self._progress.wait_for(lambda: condition(self.status()), timeout)

    def notify(self) -> None:
        """Pull now (used when this process has just committed and published an event)."""
        subscription = self._subscription
        if subscription is not None:
            subscription.notify()

    def wait(self, notification_id: int, timeout: float = 10.0) -> None:
        """Block until this subscriber has dealt with every notification up to
        ``notification_id`` (handled, filtered out or dead-lettered); ``TimeoutError`` if not
        within ``timeout`` seconds, or the subscriber's error if it failed for good."""
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
        self._close_subscription()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    # -- following the log, and coming back after an outage -----------------------------

    def _set_state(self, state: DurableState) -> None:
        with self._progress:
            self._state = state
            self._progress.notify_all()

    def _open(self) -> None:
        self._record_pending()  # a position an outage kept us from writing
        start = self.view.max_tracking_id(self.tracking_name)
        with self._progress:
            self._seen = max(self._seen, start or 0)
        subscription = _LogSubscription(
            self.application, start, self.tracking_name, self.store_topics
        )
        with self._subscription_lock:
            self._subscription = subscription
        self.polls = hasattr(subscription.subscription, "notify")
        if self.poll_interval is not None and hasattr(subscription.subscription, "interval"):
            subscription.subscription.interval = self.poll_interval
        if self._stopped.is_set():  # stop() ran while we were opening
            self._close_subscription()
        self._set_state(DurableState.RUNNING)

    def _close_subscription(self) -> None:
        with self._subscription_lock:
            subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.stop()

    def _note_outage(self, error: BaseException) -> None:
        self.outages += 1
        self.last_error = error
        self._set_state(DurableState.RETRYING)

    def _run(self) -> None:
        attempt = 0
        while not self._stopped.is_set():
            try:
                if self._subscription is None:
                    self._open()
                self._follow()
                break
            except BaseException as error:
                self._close_subscription()
                if self._stopped.is_set():
                    break
                if not isinstance(error, OUTAGES):
                    self.error = error
                    _log.exception("durable subscription %s failed", self.name)
                    self._set_state(DurableState.FAILED)
                    return
                attempt = 1 if self._healthy else attempt + 1
                self._healthy = False
                self._note_outage(error)
                delay = self.reconnect.delay(attempt)
                _log.warning("durable subscription %s lost the store (%s: %s); "
                             "re-subscribing from its position in %.2f s", self.name,
                             type(error).__name__, error, delay)
                self._pause(delay)
        try:
            self._record_pending()
        except OUTAGES as error:  # the next start replays from the recorded position
            _log.warning("durable subscription %s stopped without recording its last"
                         " position (%s)", self.name, error)
        self._set_state(DurableState.STOPPED)

    def _follow(self) -> None:
        subscription = self._subscription
        if subscription is None:
            return
        with subscription:
            for event, tracking in subscription:
                if self._stopped.is_set():
                    break
                self._process(event, tracking)
                self._healthy = True
                with self._progress:
                    self._seen = tracking.notification_id
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
            except IntegrityError:
                return  # already processed (exactly-once handlers refuse a replay)
            except Exception as error:
                if self._is_projection and isinstance(error, OUTAGES):
                    raise  # the view's store is down: re-subscribe, the event comes again
                if not self.retry.should_retry(error, attempt):
                    self._dead_letter(event, tracking, error, attempt)
                    return
                self.clock.sleep(self.retry.delay(attempt))
                attempt += 1
                continue
            self.processed += 1
            if not self._is_projection:
                self._track(tracking)  # a failed position write is an outage: re-subscribe
            return

    def _handle(self, event: Any, tracking: Tracking) -> None:
        handler = self.handler
        if isinstance(handler, Projection | EventSourcedProjection):
            handler.process_event(event, tracking)
        else:
            handler(event)

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
            # IntegrityError: already there (written before a lost reply, or by a replay)
            with contextlib.suppress(IntegrityError):
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
