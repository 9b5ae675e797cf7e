"""Durable subscriptions over eventsourcing's in-memory (POPO) store."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from eventsourcing.popo import POPOTrackingRecorder
from eventsourcing.projection import Projection

from vmcore.bus import UnifiedEventBus


class Counter(Aggregate):
    class Incremented(Aggregate.Event):
        bus_topic: ClassVar[str] = "counter.incremented"
        by: int

    class Reset(Aggregate.Event):
        bus_topic: ClassVar[str] = "counter.reset"

    @event("Created")
    def __init__(self) -> None:
        self.value = 0

    @event(Incremented)
    def increment(self, by: int) -> None:
        self.value += by

    @event(Reset)
    def reset(self) -> None:
        self.value = 0


Counter.Created.bus_topic = "counter.created"  # type: ignore[attr-defined]


def _app_with(increments: list[int]) -> tuple[Application[UUID], Counter]:
    app: Application[UUID] = Application()
    counter = Counter()
    for by in increments:
        counter.increment(by)
    app.save(counter)
    return app, counter


def _last(app: Application[UUID]) -> int:
    last = app.recorder.max_notification_id()
    assert last is not None
    return last


def test_catches_up_then_follows_live_events_in_order() -> None:
    app, counter = _app_with([1, 2, 3])
    bus = UnifiedEventBus(durable_source=app)
    seen: list[int] = []
    durable = bus.subscribe_durable("audit", lambda e: seen.append(e.by), ["counter.incremented"])
    durable.wait(_last(app))
    counter.increment(4)
    counter.increment(5)
    app.save(counter)
    durable.wait(_last(app))
    bus.stop()
    assert [1, 2, 3, 4, 5] == seen


def test_restart_resumes_after_the_recorded_position() -> None:
    app, counter = _app_with([1, 2])
    view = POPOTrackingRecorder()
    bus = UnifiedEventBus(durable_source=app)
    first: list[Any] = []
    durable = bus.subscribe_durable("p", first.append, ["counter.*"], view=view)
    durable.wait(_last(app))
    bus.stop()
    counter.increment(3)
    app.save(counter)
    again: list[Any] = []
    bus2 = UnifiedEventBus(durable_source=app)
    durable2 = bus2.subscribe_durable("p", again.append, ["counter.*"], view=view)
    durable2.wait(_last(app))
    bus2.stop()
    assert (3, [3]) == (len(first), [e.by for e in again])


def test_poison_event_is_dead_lettered_and_the_log_moves_on() -> None:
    app, _ = _app_with([1, 13, 2])
    bus = UnifiedEventBus(durable_source=app)
    seen: list[int] = []

    def handler(e: Any) -> None:
        if e.by == 13:
            raise ValueError("unlucky")
        seen.append(e.by)

    durable = bus.subscribe_durable("strict", handler, ["counter.incremented"])
    durable.wait(_last(app))
    bus.stop()
    (letter,) = bus.dead_letters.letters()
    assert ([1, 2], 13, "strict") == (seen, letter.event.by, letter.subscription_name)


class Totals(POPOTrackingRecorder):
    """A view whose total and tracking position change together, under one lock."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.applied: list[int] = []

    def add(self, by: int, tracking: Tracking) -> None:
        with self._database_lock:
            self._assert_tracking_uniqueness(tracking)
            self.total += by
            self.applied.append(tracking.notification_id)
            self._insert_tracking(tracking)


class TotalsProjection(Projection[Totals]):
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        by = getattr(domain_event, "by", 0)
        self.view.add(by, tracking)


def test_projection_handler_is_exactly_once_even_when_replayed() -> None:
    app, _ = _app_with([1, 2, 3])
    view = Totals()
    projection = TotalsProjection(view=view)
    bus = UnifiedEventBus(durable_source=app)
    durable = bus.subscribe_durable("totals", projection)
    durable.wait(_last(app))
    bus.stop()
    # Replaying an already-tracked event is refused by the view, not applied twice.
    name = durable.tracking_name
    for notification in app.recorder.select_notifications(start=1, limit=10):
        tracked = Tracking(name, notification.id)
        try:
            projection.process_event(app.mapper.to_domain_event(notification), tracked)
        except Exception:
            continue
    assert (6, [1, 2, 3, 4]) == (view.total, view.applied)


def test_track_every_records_the_position_in_steps_and_on_stop() -> None:
    app, _ = _app_with([1, 2, 3, 4, 5, 6])  # notifications 1..7
    view = POPOTrackingRecorder()
    bus = UnifiedEventBus(durable_source=app)
    seen: list[int] = []
    durable = bus.subscribe_durable(
        "steps", lambda e: seen.append(e.by), ["counter.incremented"], view=view, track_every=3
    )
    durable.wait(_last(app))
    running = durable.position
    bus.stop()
    # Created is skipped by the topic filter but still moves the position.
    assert ([1, 2, 3, 4, 5, 6], 6, 7) == (
        seen,
        running,
        view.max_tracking_id(durable.tracking_name),
    )
