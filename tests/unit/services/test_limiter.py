"""The token bucket on a fake clock."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmcore.application.services import TokenBucket
from vmcore.bus import FakeClock


def test_capacity_then_refill_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(3, 2.0, clock=clock.now)
    assert [True, True, True, False] == [bucket.try_acquire() for _ in range(4)]
    clock.advance(0.5)  # one token back
    assert [True, False] == [bucket.try_acquire(), bucket.try_acquire()]
    clock.advance(100)
    assert 3.0 == bucket.tokens  # never above capacity
    assert 2 == bucket.refused


@given(steps=st.lists(st.tuples(st.floats(0, 5), st.integers(0, 4)), max_size=30))
def test_never_more_than_capacity_plus_rate_times_elapsed(steps: list[tuple[float, int]]) -> None:
    clock = FakeClock()
    bucket = TokenBucket(4, 1.5, clock=clock.now)
    granted = 0
    for seconds, takes in steps:
        clock.advance(seconds)
        granted += sum(bucket.try_acquire() for _ in range(takes))
    assert granted <= 4 + 1.5 * clock.now() + 1e-9


def test_acquire_waits_on_the_clock() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1, 4.0, clock=clock.now, sleep=clock.asleep)

    async def take_three() -> None:
        for _ in range(3):
            await bucket.acquire()

    asyncio.run(take_three())
    assert [0.25, 0.25] == clock.sleeps
    assert 0 == bucket.refused


def test_a_bucket_needs_positive_capacity_and_rate() -> None:
    with pytest.raises(ValueError, match="capacity > 0"):
        TokenBucket(0, 1, clock=FakeClock().now)
