from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.bus import EventMigrator, FakeClock, LatencySummary, UnifiedEventBus
from vmcore.domain.runtime import RuntimeEvent


def test_latency_percentiles_come_from_the_injected_clock() -> None:
    clock = FakeClock()
    bus = UnifiedEventBus(clock=clock, latency_sampling=1)
    bus.subscribe("t", lambda e: clock.advance(e.data["ms"] / 1000), name="timed")
    for ms in range(1, 101):
        bus.publish(RuntimeEvent("t", data={"ms": ms}))
    clock.advance(100.0 - clock.now())
    (stats,) = bus.stats().subscriptions
    latency = stats.metrics.latency
    assert ("timed", 100, 1.0) == (
        stats.name,
        stats.metrics.delivered,
        stats.metrics.events_per_second,
    )
    assert (0.05, 0.09, 0.095, 0.099, 0.1) == (
        round(latency.p50, 9),
        round(latency.p90, 9),
        round(latency.p95, 9),
        round(latency.p99, 9),
        round(latency.max, 9),
    )


@settings(deadline=None)
@given(samples=st.lists(st.floats(0, 10), min_size=1, max_size=200))
def test_percentiles_are_ordered_and_bounded_by_the_samples(samples: list[float]) -> None:
    s = LatencySummary.of(samples)
    assert min(samples) <= s.p50 <= s.p90 <= s.p95 <= s.p99 <= s.max == max(samples)


def test_latency_is_sampled_one_event_in_n_while_counters_stay_exact() -> None:
    clock = FakeClock()
    bus = UnifiedEventBus(clock=clock, latency_sampling=4)
    bus.subscribe("t", lambda e: clock.advance(0.001))
    for _ in range(100):
        bus.publish(RuntimeEvent("t"))
    (stats,) = bus.stats().subscriptions
    assert (100, 25) == (stats.metrics.delivered, stats.metrics.latency.count)


def test_overall_totals_include_unsubscribed_handlers() -> None:
    bus = UnifiedEventBus()
    sid = bus.subscribe("t", lambda e: None)
    bus.subscribe("t", lambda e: 1 / 0)
    bus.publish(RuntimeEvent("t"))
    bus.unsubscribe(sid)
    totals = bus.stats().totals
    assert (1, 1, 1) == (totals.delivered, totals.failed, totals.dead_lettered)


@attrs.frozen
class StartedV1:
    bus_topic = "vm.started"
    vm: str


@attrs.frozen
class StartedV2:
    bus_topic = "vm.started"
    vm: str
    startup_time_ms: int


@attrs.frozen
class StartedV3:
    bus_topic = "vm.started"
    vm: str
    startup_time_ms: int
    host: str


def test_upcaster_runs_before_dispatch_so_handlers_see_the_current_class() -> None:
    migrator = EventMigrator()
    migrator.register(StartedV1, lambda e: StartedV2(e.vm, 0))
    migrator.register(StartedV2, lambda e: StartedV3(e.vm, e.startup_time_ms, "unknown"))
    bus = UnifiedEventBus(upcaster=migrator)
    seen: list[Any] = []
    bus.subscribe("vm.*", seen.append)
    bus.publish(StartedV1("a"))
    bus.publish(StartedV2("b", 7))
    bus.publish_batch([StartedV3("c", 1, "h")])
    assert [
        StartedV3("a", 0, "unknown"),
        StartedV3("b", 7, "unknown"),
        StartedV3("c", 1, "h"),
    ] == seen


def test_migrator_refuses_duplicates_and_cycles() -> None:
    migrator = EventMigrator(max_steps=4)
    migrator.register(StartedV1, lambda e: StartedV2(e.vm, 0))
    migrator.register(StartedV2, lambda e: StartedV1(e.vm))
    try:
        migrator.register(StartedV1, lambda e: e)
    except ValueError:
        pass
    else:
        raise AssertionError("duplicate registration accepted")
    try:
        migrator(StartedV1("x"))
    except RuntimeError:
        return
    raise AssertionError("a migration cycle was not detected")


class _Counting:
    """Succeeds except on events whose n is divisible by ``fail_every``; counts successes."""

    def __init__(self, fail_every: int) -> None:
        self.fail_every = fail_every
        self.ok = 0

    def __call__(self, event: Any) -> None:
        if event.data["n"] % self.fail_every == 0:
            raise RuntimeError("planned failure")
        self.ok += 1


operations = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.sampled_from(["a", "b"]), st.integers(1, 20)),
        st.tuples(st.just("subscribe"), st.sampled_from(["a", "b", "*"]), st.integers(2, 5)),
        st.tuples(st.just("unsubscribe"), st.just(""), st.integers(0, 9)),
        st.tuples(st.just("stats"), st.just(""), st.just(0)),
    ),
    max_size=40,
)


@settings(deadline=None)
@given(ops=operations, sampling=st.sampled_from([1, 2, 8]))
def test_delivered_counters_are_exact_across_route_changes(
    ops: list[tuple[str, str, int]], sampling: int
) -> None:
    bus = UnifiedEventBus(latency_sampling=sampling)
    handlers: dict[int, _Counting] = {}
    retired_ok = retired_failed = 0
    for op, topic, value in ops:
        if op == "publish":
            bus.publish(RuntimeEvent(topic, data={"n": value}))
        elif op == "subscribe":
            handler = _Counting(value)
            handlers[bus.subscribe(topic, handler)] = handler
        elif op == "unsubscribe" and handlers:
            sid = sorted(handlers)[value % len(handlers)]
            (gone,) = [s for s in bus.stats().subscriptions if s.id == sid]
            retired_ok += handlers[sid].ok
            retired_failed += gone.metrics.failed
            bus.unsubscribe(sid)
            del handlers[sid]
        else:
            bus.stats()
    stats = bus.stats()
    per = {s.id: s.metrics.delivered for s in stats.subscriptions}
    assert {sid: h.ok for sid, h in handlers.items()} == per
    assert retired_ok + sum(h.ok for h in handlers.values()) == stats.totals.delivered
    expected_failed = retired_failed + sum(s.metrics.failed for s in stats.subscriptions)
    assert expected_failed == stats.totals.failed
