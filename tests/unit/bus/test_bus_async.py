from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.bus import BusNotRunning, FakeClock, Mode, QueueFull, RetryPolicy, UnifiedEventBus
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
