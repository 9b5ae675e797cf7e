"""The token bucket, on an injected clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vmcore.entrypoints.http.ratelimit import RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [0.0, 0.0, 0.0] == [limiter.take("a") for _ in range(3)]
    assert 0.5 == limiter.take("a")
    assert 0.0 == limiter.take("b")  # per client
    clock.now = 0.5
    assert 0.0 == limiter.take("a")
    assert 0.5 == limiter.take("a")
    assert "1" == retry_after(0.5)
    assert "3" == retry_after(2.01)


@given(rate=st.floats(0.1, 1000), burst=st.integers(1, 200),
       gaps=st.lists(st.floats(0, 5), max_size=200))
def test_never_more_than_burst_plus_rate_times_elapsed(rate: float, burst: int,
                                                       gaps: list[float]) -> None:
    clock = Clock()
    limiter = RateLimiter(rate=rate, burst=burst, clock=clock)
    allowed = 0
    for gap in gaps:
        clock.now += gap
        allowed += limiter.take("c") == 0.0
    assert allowed <= burst + rate * clock.now + 1e-6


def test_forgets_the_least_recent_client_past_its_capacity() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=Clock(), max_clients=2)
    for key in ("a", "b", "c"):
        assert 0.0 == limiter.take(key)
    assert 0.0 == limiter.take("a")  # forgotten, so a fresh bucket
