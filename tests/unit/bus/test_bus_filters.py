from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID, uuid4

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.bus import (
    EventFilter,
    EventTypeFilter,
    FilterChain,
    PredicateFilter,
    TimeRangeFilter,
    UnifiedEventBus,
    VmIdFilter,
)
from vmcore.domain.runtime import RuntimeEvent


@attrs.frozen
class Ping:
    bus_topic: str
    n: int
    vm_id: UUID
    timestamp: datetime


@attrs.frozen
class Started:
    bus_topic: ClassVar[str] = "vm.started"
    originator_id: UUID
    timestamp: datetime


EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
vm_ids = st.sampled_from([UUID(int=i) for i in range(1, 4)])
events = st.builds(
    Ping,
    bus_topic=st.sampled_from(["vm.started", "vm.paused", "mmu.page_fault"]),
    n=st.integers(0, 9),
    vm_id=vm_ids,
    timestamp=st.integers(0, 100).map(lambda s: EPOCH + timedelta(seconds=s)),
)


@settings(deadline=None)
@given(event=events)
def test_each_filter_decides_by_its_own_field(event: Ping) -> None:
    assert (event.bus_topic == "vm.paused") == EventTypeFilter(topics=["vm.paused"])(event)
    assert (event.vm_id == UUID(int=1)) == VmIdFilter([UUID(int=1)])(event)
    in_range = EPOCH + timedelta(seconds=10) <= event.timestamp < EPOCH + timedelta(seconds=20)
    window = TimeRangeFilter(EPOCH + timedelta(seconds=10), EPOCH + timedelta(seconds=20))
    assert in_range == window(event)
    assert (event.n % 2 == 0) == PredicateFilter(lambda e: e.n % 2 == 0)(event)


@settings(deadline=None)
@given(published=st.lists(events, max_size=30))
def test_subscription_receives_exactly_the_events_all_filters_accept(
    published: list[Ping],
) -> None:
    bus = UnifiedEventBus()
    got: list[Ping] = []
    chain: list[EventFilter] = [
        EventTypeFilter(topics=["vm.started", "vm.paused"]),
        VmIdFilter([UUID(int=1), UUID(int=2)]),
        TimeRangeFilter(start=EPOCH + timedelta(seconds=30)),
        PredicateFilter(lambda e: e.n != 3),
    ]
    bus.subscribe("*", got.append, filters=chain)
    for event in published:
        bus.publish(event)
    expected = [e for e in published if all(f(e) for f in chain)]
    assert expected == got


def test_event_type_filter_accepts_classes_and_vm_id_reads_originator_id() -> None:
    vm = uuid4()
    started = Started(originator_id=vm, timestamp=EPOCH)
    assert EventTypeFilter(classes=[Started])(started)
    assert not EventTypeFilter(classes=[Ping])(started)
    assert VmIdFilter([vm])(started)


def test_time_range_rejects_events_without_timestamp_and_empty_chain_accepts() -> None:
    assert not TimeRangeFilter()(RuntimeEvent("t"))
    assert FilterChain()(RuntimeEvent("t"))
    assert FilterChain.of(None) is None
    assert FilterChain.of([]) is None


def test_a_raising_filter_is_a_failed_delivery_and_does_not_stop_others() -> None:
    bus = UnifiedEventBus()
    got: list[Any] = []

    def broken(event: Any) -> bool:
        raise RuntimeError("bad filter")

    bus.subscribe("t", got.append, filters=broken, priority=1)
    bus.subscribe("t", got.append)
    bus.publish(RuntimeEvent("t"))
    assert (1, 1) == (len(got), len(bus.dead_letters))
