from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.bus import AdaptiveBatching, FakeClock, Mode, UnifiedEventBus
from vmcore.domain.runtime import RuntimeEvent


def _events(ns: list[int], topic: str = "t") -> list[RuntimeEvent]:
    return [RuntimeEvent(topic, data={"n": n}) for n in ns]


def test_batches_flush_on_size_and_stop_drains_the_rest() -> None:
    bus = UnifiedEventBus()
    batches: list[list[int]] = []
    bus.subscribe(
        "t", lambda b: batches.append([e.data["n"] for e in b]), mode="batch", batch_size=3
    )
    for event in _events(list(range(7))):
        bus.publish(event)
    assert [[0, 1, 2], [3, 4, 5]] == batches
    bus.stop()
    assert [[0, 1, 2], [3, 4, 5], [6]] == batches


def test_batches_flush_when_the_interval_has_passed() -> None:
    clock = FakeClock()
    bus = UnifiedEventBus(clock=clock)
    batches: list[int] = []
    bus.subscribe("t", lambda b: batches.append(len(b)), mode=Mode.BATCH, batch_interval=1.0)
    bus.publish(RuntimeEvent("t"))
    clock.advance(0.5)
    bus.flush_due()
    assert [] == batches
    clock.advance(0.5)
    bus.flush_due()
    assert [1] == batches
    bus.publish(RuntimeEvent("t"))
    clock.advance(2.0)
    bus.publish(RuntimeEvent("t"))
    assert [1, 2] == batches


@settings(deadline=None)
@given(
    size=st.integers(1, 8),
    chunks=st.lists(st.lists(st.integers(0, 99), max_size=12), max_size=8),
)
def test_batches_concatenate_to_the_published_sequence(size: int, chunks: list[list[int]]) -> None:
    bus = UnifiedEventBus()
    received: list[int] = []
    bus.subscribe(
        "t", lambda b: received.extend(e.data["n"] for e in b), mode="batch", batch_size=size
    )
    for index, chunk in enumerate(chunks):
        if index % 2:
            bus.publish_batch(_events(chunk))
        else:
            for event in _events(chunk):
                bus.publish(event)
    bus.flush()
    assert [n for chunk in chunks for n in chunk] == received


@settings(deadline=None)
@given(topics=st.lists(st.sampled_from(["a", "b", "c"]), max_size=30))
def test_publish_batch_with_mixed_topics_keeps_each_subscriptions_order(topics: list[str]) -> None:
    bus = UnifiedEventBus()
    everything: list[int] = []
    only_a: list[int] = []
    bus.subscribe("*", lambda b: everything.extend(e.data["n"] for e in b), mode="batch")
    bus.subscribe("a", lambda e: only_a.append(e.data["n"]))
    bus.publish_batch([RuntimeEvent(t, data={"n": i}) for i, t in enumerate(topics)])
    bus.flush()
    expected_a = [i for i, t in enumerate(topics) if t == "a"]
    assert (list(range(len(topics))), expected_a) == (everything, only_a)


def test_publish_batch_serves_sync_subscribers_and_filters_per_event() -> None:
    bus = UnifiedEventBus()
    single: list[int] = []
    batched: list[list[int]] = []
    bus.subscribe("a", lambda e: single.append(e.data["n"]))
    bus.subscribe(
        "*",
        lambda b: batched.append([e.data["n"] for e in b]),
        mode="batch",
        batch_size=10,
        filters=lambda e: e.data["n"] % 2 == 0,
    )
    bus.publish_batch(_events([1, 2], "a") + _events([3, 4, 6], "b") + _events([8], "nobody"))
    bus.flush()
    assert ([1, 2], [[2, 4, 6, 8]]) == (single, batched)


@settings(deadline=None)
@given(
    size=st.integers(1, 10_000),
    latency=st.floats(0.0, 1.0),
    target=st.floats(0.001, 0.5),
)
def test_adaptive_size_moves_against_the_latency_error_within_bounds(
    size: int, latency: float, target: float
) -> None:
    tuner = AdaptiveBatching(target, min_size=2, max_size=5_000)
    new = tuner.next_size(size, latency)
    bounded = max(2, min(5_000, size))
    assert 2 <= new <= 5_000
    if latency > target:
        assert new <= bounded
    elif latency < target / 2:
        assert new >= bounded


def test_adaptive_mode_converges_toward_the_target_latency() -> None:
    clock = FakeClock()
    bus = UnifiedEventBus(clock=clock)
    sizes: list[int] = []

    def handler(batch: list[Any]) -> None:
        sizes.append(len(batch))
        clock.advance(0.0001 * len(batch))  # 0.1 ms of work per event

    bus.subscribe("t", handler, mode=Mode.ADAPTIVE, batch_size=200, target_latency=0.02)
    for event in _events(list(range(5000))):
        clock.advance(0.001)  # one event per millisecond: a batch of n waits about n ms
        bus.publish(event)
    (stats,) = bus.stats().subscriptions
    assert stats.batch_size is not None
    assert 8 <= stats.batch_size <= 20
    assert all(8 <= n <= 20 for n in sizes[-20:])


def test_batch_with_coroutine_handler_is_delivered_by_the_workers() -> None:
    async def main() -> list[list[int]]:
        bus = UnifiedEventBus()
        got: list[list[int]] = []

        async def handler(batch: list[Any]) -> None:
            got.append([e.data["n"] for e in batch])

        bus.subscribe("t", handler, mode="batch", batch_size=2)
        bus.start()
        for event in _events([1, 2, 3]):
            await bus.publish_async(event)
        await bus.stop_async()
        return got

    assert [[1, 2], [3]] == asyncio.run(main())
