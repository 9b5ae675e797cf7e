from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.bus import (
    BusNotRunning,
    FakeClock,
    Mode,
    PredicateFilter,
    QueueFull,
    RetryPolicy,
    UnifiedEventBus,
)
from vmcore.domain.runtime import RuntimeEvent


def _event(n: int, topic: str = "t") -> RuntimeEvent:
    return RuntimeEvent(topic, data={"n": n})


@settings(max_examples=25, deadline=None)
@given(sequence=st.lists(st.integers(0, 99), max_size=40), workers=st.integers(1, 4))
def test_async_subscribers_see_their_events_in_order(sequence: list[int], workers: int) -> None:
    async def main() -> tuple[list[int], list[int]]:
        bus = UnifiedEventBus(workers=workers)
        coro_seen: list[int] = []
        plain_seen: list[int] = []

        async def coro(event: Any) -> None:
            await asyncio.sleep(0)
            coro_seen.append(event.data["n"])

        bus.subscribe("t", coro)
        bus.subscribe("t", lambda e: plain_seen.append(e.data["n"]), mode=Mode.ASYNC)
        bus.start()
        for n in sequence:
            await bus.publish_async(_event(n))
        await bus.stop_async()
        return coro_seen, plain_seen

    assert (sequence, sequence) == asyncio.run(main())


def test_publishing_to_async_subscribers_needs_a_started_bus() -> None:
    async def handler(event: Any) -> None:
        return None

    bus = UnifiedEventBus()
    bus.subscribe("t", handler)
    with pytest.raises(BusNotRunning):
        bus.publish(_event(1))


def test_full_queue_makes_publish_async_wait_and_sync_publish_raise() -> None:
    async def main() -> tuple[bool, bool, list[int]]:
        bus = UnifiedEventBus(workers=1, max_queue_size=2)
        gate = asyncio.Event()
        seen: list[int] = []

        async def slow(event: Any) -> None:
            await gate.wait()
            seen.append(event.data["n"])

        bus.subscribe("t", slow)
        bus.start()
        await bus.publish_async(_event(1))
        await asyncio.sleep(0)  # the worker takes event 1 and blocks on the gate
        await bus.publish_async(_event(2))
        await bus.publish_async(_event(3))
        waiting = asyncio.create_task(bus.publish_async(_event(4)))
        for _ in range(5):
            await asyncio.sleep(0)
        blocked = not waiting.done()
        try:
            bus.publish(_event(5))
            raised = False
        except QueueFull:
            raised = True
        gate.set()
        await waiting
        await bus.stop_async()
        return blocked, raised, seen

    assert (True, True, [1, 2, 3, 4]) == asyncio.run(main())


def test_semaphore_caps_concurrent_handlers() -> None:
    async def main() -> int:
        bus = UnifiedEventBus(workers=4, max_concurrency=2)
        active = 0
        peak = 0
        gate = asyncio.Event()

        async def handler(event: Any) -> None:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await gate.wait()
            active -= 1

        for _ in range(4):  # ids 1..4 land on the four different workers
            bus.subscribe("t", handler)
        bus.start()
        await bus.publish_async(_event(1))
        for _ in range(10):
            await asyncio.sleep(0)
        observed = peak
        gate.set()
        await bus.stop_async()
        return observed

    assert 2 == asyncio.run(main())


def test_async_retry_backs_off_on_the_injected_clock() -> None:
    clock = FakeClock()

    async def main() -> list[int]:
        bus = UnifiedEventBus(clock=clock)
        calls: list[int] = []

        async def flaky(event: Any) -> None:
            calls.append(event.data["n"])
            if len(calls) < 3:
                raise ConnectionError("try again")

        bus.subscribe("t", flaky, retry=RetryPolicy.exponential(5, 0.25))
        bus.start()
        await bus.publish_async(_event(7))
        await bus.stop_async()
        return calls

    assert ([7, 7, 7], [0.25, 0.5]) == (asyncio.run(main()), clock.sleeps)


def _bus_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "vmcore-bus")


def test_background_thread_mode_accepts_sync_publishers_and_drains_on_stop() -> None:
    before = _bus_threads()
    bus = UnifiedEventBus()
    seen: list[int] = []

    async def handler(event: Any) -> None:
        seen.append(event.data["n"])

    bus.subscribe("t", handler)
    bus.start()
    threads_while_running = _bus_threads() - before
    for n in range(500):
        bus.publish(_event(n))
    bus.stop()
    assert (1, list(range(500))) == (threads_while_running, seen)
    assert before == _bus_threads()


def test_default_worker_footprint_is_under_twenty_tasks() -> None:
    async def main() -> int:
        before = len(asyncio.all_tasks())
        bus = UnifiedEventBus()
        bus.start()
        running = len(asyncio.all_tasks()) - before
        await bus.stop_async()
        return running

    assert 5 == asyncio.run(main())


def test_stop_from_the_loop_thread_must_be_awaited() -> None:
    async def main() -> None:
        bus = UnifiedEventBus()
        bus.start()
        try:
            with pytest.raises(RuntimeError):
                bus.stop()
        finally:
            await bus.stop_async()

    asyncio.run(main())


def test_overflow_raise_makes_cross_thread_publish_fail_fast_and_keeps_accepted_events() -> None:
    bus = UnifiedEventBus(workers=1, max_queue_size=1, overflow="raise")
    gate = asyncio.Event()  # binds to the workers' loop on first wait
    seen: list[int] = []

    async def handler(event: Any) -> None:
        await gate.wait()
        seen.append(event.data["n"])

    bus.subscribe("t", handler)
    bus.start()  # no running loop here: the workers get their own thread
    accepted: list[int] = []
    with pytest.raises(QueueFull):
        for n in range(4):  # one in the handler, one queued: the third cannot fit
            bus.publish(_event(n))
            accepted.append(n)
    loop = bus.loop
    assert loop is not None
    loop.call_soon_threadsafe(gate.set)
    bus.stop()
    assert 1 <= len(accepted) <= 2
    assert accepted == seen


def test_plain_and_coroutine_handlers_sharing_a_worker_keep_order_and_isolate_failures() -> None:
    async def main() -> tuple[list[int], list[int], list[int], list[tuple[str, int]], int]:
        bus = UnifiedEventBus(workers=1, max_queue_size=4)
        plain_seen: list[int] = []
        coro_seen: list[int] = []
        picky_seen: list[int] = []

        def broken(event: Any) -> None:
            raise RuntimeError("always")

        async def coro(event: Any) -> None:
            coro_seen.append(event.data["n"])

        async def picky(event: Any) -> None:
            if event.data["n"] % 3 == 0:
                raise ValueError("no multiples of three")
            picky_seen.append(event.data["n"])

        bus.subscribe("t", broken, mode=Mode.ASYNC, name="broken")  # plain: called inline
        bus.subscribe("t", lambda e: plain_seen.append(e.data["n"]), mode=Mode.ASYNC)
        bus.subscribe("t", picky, name="picky")
        bus.subscribe("t", coro)
        bus.start()
        for n in range(20):  # more than the queue holds: publish_async waits for room
            await bus.publish_async(_event(n))
        await bus.stop_async()
        letters = [(d.subscription_name, d.event.data["n"]) for d in bus.dead_letters.letters()]
        return plain_seen, coro_seen, picky_seen, letters, bus.stats().totals.delivered

    plain, coro, picky, letters, delivered = asyncio.run(main())
    everything = list(range(20))
    assert (everything, everything) == (plain, coro)
    assert [n for n in everything if n % 3] == picky
    expected_letters = sorted(
        [("broken", n) for n in everything] + [("picky", n) for n in everything if n % 3 == 0]
    )
    assert expected_letters == sorted(letters)
    assert 20 + 20 + 13 == delivered


def test_async_latency_is_sampled_one_event_in_n_per_topic_while_counters_stay_exact() -> None:
    clock = FakeClock()

    async def main() -> list[tuple[str, int, int]]:
        bus = UnifiedEventBus(clock=clock, latency_sampling=4)

        async def coro(event: Any) -> None:
            clock.advance(0.001)

        bus.subscribe("t", coro, name="coro")
        bus.subscribe("t", lambda e: None, mode=Mode.ASYNC, name="plain")
        bus.subscribe("t", lambda e: None, name="sync")  # counted once per event, with them
        bus.start()
        for n in range(50):
            await bus.publish_async(_event(n))
            bus.publish(_event(n))  # from the loop thread: queued at once
        await bus.stop_async()
        return [
            (s.name, s.metrics.delivered, s.metrics.latency.count)
            for s in bus.stats().subscriptions
        ]

    assert [("coro", 100, 25), ("plain", 100, 25), ("sync", 100, 25)] == asyncio.run(main())


def test_retried_async_deliveries_are_counted_whether_or_not_their_latency_is_sampled() -> None:
    clock = FakeClock()

    async def main() -> tuple[int, int, int, int, int]:
        bus = UnifiedEventBus(clock=clock, latency_sampling=8)
        attempts = 0

        async def every_first_attempt_fails(event: Any) -> None:
            nonlocal attempts
            attempts += 1
            if attempts % 2:
                raise ConnectionError("first attempt")

        bus.subscribe("t", every_first_attempt_fails, retry=RetryPolicy.fixed(2, 0.01))
        bus.start()
        for n in range(16):
            await bus.publish_async(_event(n))
        await bus.stop_async()
        m = bus.stats().subscriptions[0].metrics
        return m.delivered, m.failed, m.retried, m.dead_lettered, m.latency.count

    assert (16, 16, 16, 0, 2) == asyncio.run(main())


def test_events_waiting_for_an_unsubscribed_handler_are_dropped_and_filters_apply() -> None:
    async def main() -> tuple[list[int], list[int], list[int]]:
        bus = UnifiedEventBus(workers=1)
        gone: list[int] = []
        kept: list[int] = []
        even: list[int] = []
        sid = bus.subscribe("t", lambda e: gone.append(e.data["n"]), mode=Mode.ASYNC)
        bus.subscribe("t", lambda e: kept.append(e.data["n"]), mode=Mode.ASYNC)
        bus.subscribe(
            "t",
            lambda e: even.append(e.data["n"]),
            mode=Mode.ASYNC,
            filters=PredicateFilter(lambda e: e.data["n"] % 2 == 0),
        )
        bus.start()
        for n in range(5):  # room in the queue: queued without the worker running yet
            await bus.publish_async(_event(n))
        bus.unsubscribe(sid)
        await bus.stop_async()
        return gone, kept, even

    assert ([], [0, 1, 2, 3, 4], [0, 2, 4]) == asyncio.run(main())
