from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.bus import FakeClock, RetryPolicy, UnifiedEventBus
from vmcore.domain.runtime import RuntimeEvent


class Flaky:
    """Fails the first ``failures`` calls with ``error``, then records events."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or ConnectionError("transient")
        self.calls = 0
        self.seen: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        self.seen.append(event)


def test_failing_handler_does_not_affect_the_others() -> None:
    bus = UnifiedEventBus()
    before: list[Any] = []
    after: list[Any] = []
    bus.subscribe("t", before.append, priority=2)
    bus.subscribe("t", Flaky(10**9), priority=1)
    bus.subscribe("t", after.append, priority=0)
    bus.publish(RuntimeEvent("t"))
    assert (1, 1, 1) == (len(before), len(after), len(bus.dead_letters))


def test_fixed_retry_waits_on_the_clock_and_then_delivers() -> None:
    clock = FakeClock()
    bus = UnifiedEventBus(clock=clock)
    handler = Flaky(2)
    bus.subscribe("t", handler, retry=RetryPolicy.fixed(attempts=3, delay=0.5))
    bus.publish(RuntimeEvent("t"))
    metrics = bus.stats().subscriptions[0].metrics
    assert ([0.5, 0.5], 1, 2, 2, 0) == (
        clock.sleeps,
        len(handler.seen),
        metrics.failed,
        metrics.retried,
        metrics.dead_lettered,
    )


def test_exponential_backoff_is_capped_and_ends_in_the_dead_letter_queue() -> None:
    clock = FakeClock()
    bus = UnifiedEventBus(clock=clock)
    policy = RetryPolicy.exponential(attempts=6, base_delay=0.1, multiplier=2.0, max_delay=1.0)
    bus.subscribe("t", Flaky(100), retry=policy, name="flaky")
    event = RuntimeEvent("t")
    bus.publish(event)
    assert [0.1, 0.2, 0.4, 0.8, 1.0] == pytest.approx(clock.sleeps)
    (letter,) = bus.dead_letters.letters()
    assert (event, 6, "flaky", "t") == (
        letter.event,
        letter.attempts,
        letter.subscription_name,
        letter.topic,
    )


@settings(deadline=None)
@given(
    attempt=st.integers(1, 20),
    base=st.floats(0.001, 1.0),
    cap=st.floats(0.001, 10.0),
    jitter=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32),
)
def test_jittered_delay_stays_between_its_bounds(
    attempt: int, base: float, cap: float, jitter: float, seed: int
) -> None:
    policy = RetryPolicy.exponential(
        10, base, max_delay=cap, jitter=jitter, rng=random.Random(seed)
    )
    full = min(cap, base * 2.0 ** (attempt - 1))
    delay = policy.delay(attempt)
    assert full * (1 - jitter) - 1e-12 <= delay <= full + 1e-12


def test_non_retryable_error_is_dead_lettered_at_once() -> None:
    clock = FakeClock()
    bus = UnifiedEventBus(clock=clock)
    policy = RetryPolicy.fixed(5, 1.0, retryable=lambda e: isinstance(e, ConnectionError))
    bus.subscribe("t", Flaky(1, ValueError("bad data")), retry=policy)
    bus.publish(RuntimeEvent("t"))
    assert ([], 1, 1) == (
        clock.sleeps,
        len(bus.dead_letters),
        bus.dead_letters.letters()[0].attempts,
    )


def test_dead_letters_can_be_listed_and_redriven() -> None:
    bus = UnifiedEventBus()
    handler = Flaky(3)
    bus.subscribe("t", handler)
    events = [RuntimeEvent("t", data={"n": n}) for n in range(3)]
    for event in events:
        bus.publish(event)
    assert events == [d.event for d in bus.dead_letters.letters()]
    assert 3 == bus.redrive()
    assert (events, 0) == (handler.seen, len(bus.dead_letters))


def test_redrive_keeps_letters_of_removed_subscriptions_and_filters_by_predicate() -> None:
    bus = UnifiedEventBus()
    gone = bus.subscribe("a", Flaky(1))
    live = Flaky(1)
    bus.subscribe("b", live)
    bus.publish(RuntimeEvent("a"))
    bus.publish(RuntimeEvent("b"))
    bus.unsubscribe(gone)
    assert 0 == bus.redrive(lambda d: d.topic == "nothing")
    assert 1 == bus.redrive()
    assert (1, ["a"]) == (len(live.seen), [d.topic for d in bus.dead_letters])


def test_dead_letters_of_async_and_batch_handlers_are_redriven_through_their_mode() -> None:
    async def main() -> tuple[list[int], list[list[int]], int]:
        bus = UnifiedEventBus()
        singles: list[int] = []
        batches: list[list[int]] = []
        broken = True

        async def single(event: Any) -> None:
            if broken:
                raise ConnectionError("down")
            singles.append(event.data["n"])

        async def batch(events: list[Any]) -> None:
            if broken:
                raise ConnectionError("down")
            batches.append([e.data["n"] for e in events])

        bus.subscribe("a", single)
        bus.subscribe("b", batch, mode="batch", batch_size=2)
        bus.start()
        for n in range(2):
            await bus.publish_async(RuntimeEvent("a", data={"n": n}))
            await bus.publish_async(RuntimeEvent("b", data={"n": n}))
        await bus.join()
        letters = len(bus.dead_letters)
        broken = False
        bus.redrive()
        await bus.stop_async()
        return singles, batches, letters

    assert ([0, 1], [[0, 1]], 3) == asyncio.run(main())
