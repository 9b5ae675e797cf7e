"""A durable subscription through store outages: retries with backoff, reports its state,
resumes from its position; only incurable errors stop it. The in-memory store with a switch
that makes it fail like an unreachable server (eventsourcing's OperationalError)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    Notification,
    OperationalError,
    Subscription,
    Tracking,
)
from eventsourcing.popo import POPOTrackingRecorder

from tests.unit.bus.test_bus_durable_popo import Counter
from vmcore.bus import DurableState, RetryPolicy
from vmcore.bus.durable import DurableSubscription
from vmcore_event_store.polling import PollingSubscription


class Switch:
    def __init__(self) -> None:
        self.down = False

    def check(self) -> None:
        if self.down:
            raise OperationalError("connection refused (the store is down)")


class FlakyRecorder:
    """The application's recorder, unreachable while the switch is down."""

    def __init__(self, recorder: ApplicationRecorder, switch: Switch) -> None:
        self.recorder = recorder
        self.switch = switch

    def select_notifications(self, *args: Any, **kwargs: Any) -> Sequence[Notification]:
        self.switch.check()
        return self.recorder.select_notifications(*args, **kwargs)

    def max_notification_id(self) -> int | None:
        self.switch.check()
        return self.recorder.max_notification_id()

    def subscribe(self, gt: int | None = None,
                  topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        self.switch.check()
        return PollingSubscription(self, gt, topics, interval=0.005,  # type: ignore[arg-type]
                                   probe=self.max_notification_id)


class FlakyView(POPOTrackingRecorder):
    def __init__(self, switch: Switch) -> None:
        super().__init__()
        self.switch = switch

    def insert_tracking(self, tracking: Tracking) -> None:
        self.switch.check()
        super().insert_tracking(tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        self.switch.check()
        return super().max_tracking_id(application_name)


def _app(switch: Switch, increments: int) -> tuple[Application[UUID], Counter]:
    app: Application[UUID] = Application()
    counter = Counter()
    for _ in range(increments):
        counter.increment(1)
    app.save(counter)
    app.recorder = FlakyRecorder(app.recorder, switch)  # type: ignore[assignment]
    return app, counter


def _durable(app: Application[UUID], view: POPOTrackingRecorder, seen: list[int],
             pauses: list[float], restore_after: int, switch: Switch) -> DurableSubscription:
    def pause(delay: float) -> None:
        pauses.append(delay)
        if len(pauses) == restore_after:
            switch.down = False

    return DurableSubscription(
        name="audit", handler=lambda e: seen.append(e.originator_version),
        topics=["counter.*"], application=app, view=view, pause=pause,
        reconnect=RetryPolicy.exponential(100, 0.1, max_delay=0.5))


def test_the_store_going_away_is_retried_with_growing_pauses_and_resumed() -> None:
    switch = Switch()
    app, counter = _app(switch, 3)
    seen: list[int] = []
    pauses: list[float] = []
    durable = _durable(app, FlakyView(switch), seen, pauses, 4, switch)
    try:
        durable.wait(4)
        switch.down = True
        for _ in range(5):
            counter.increment(1)
        app.save(counter)
        durable.wait(9)
        status = durable.status()
    finally:
        durable.stop()
    assert list(range(1, 10)) == seen
    assert [0.1, 0.2, 0.4, 0.5] == pauses
    assert (DurableState.RUNNING, 4, 9) == (status.state, status.outages, status.position)
    assert status.last_error is not None and "store is down" in status.last_error
    assert DurableState.STOPPED == durable.state


def test_a_position_that_could_not_be_written_is_written_on_return_not_replayed() -> None:
    switch = Switch()
    app, counter = _app(switch, 1)
    seen: list[int] = []
    pauses: list[float] = []
    view = FlakyView(switch)
    handled = threading.Event()

    def handler(event: Any) -> None:
        seen.append(event.originator_version)
        if event.originator_version == 3:
            switch.down = True  # the position of event 3 cannot be written
            handled.set()

    durable = DurableSubscription(
        name="audit", handler=handler, topics=["counter.*"], application=app, view=view,
        pause=lambda d: (pauses.append(d), setattr(switch, "down", False)),
        reconnect=RetryPolicy.exponential(100, 0.1))
    try:
        counter.increment(1)
        app.save(counter)
        assert handled.wait(10)
        durable.wait(3)
        counter.increment(1)
        app.save(counter)
        durable.wait(4)
    finally:
        durable.stop()
    assert [1, 2, 3, 4] == seen
    assert (1, 4) == (len(pauses), view.max_tracking_id(durable.tracking_name))
    assert [] == list(durable.dead_letters)


def test_an_error_retrying_cannot_cure_stops_it_for_good() -> None:
    switch = Switch()
    app, _ = _app(switch, 2)

    def broken_upcaster(event: Any) -> Any:
        raise ValueError("no upcast for this event")

    durable = DurableSubscription(
        name="audit", handler=lambda e: None, topics=["counter.*"], application=app,
        view=FlakyView(switch), upcaster=broken_upcaster)
    with pytest.raises(ValueError, match="no upcast"):
        durable.wait(3)
    durable.stop()
    status = durable.status()
    assert (DurableState.FAILED, "ValueError: no upcast for this event") == (
        status.state, status.last_error)


def test_the_bus_lists_the_state_of_its_durable_subscriptions() -> None:
    from vmcore.bus import UnifiedEventBus

    switch = Switch()
    app, _ = _app(switch, 2)
    bus = UnifiedEventBus(durable_source=app)
    durable = bus.subscribe_durable("audit", lambda e: None, ["counter.*"],
                                    view=FlakyView(switch))
    durable.wait(3)
    assert [("audit", DurableState.RUNNING, 3)] == [
        (s.name, s.state, s.position) for s in bus.durable_statuses()]
    bus.stop()
