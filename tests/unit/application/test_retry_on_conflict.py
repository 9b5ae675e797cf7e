"""retry_on_conflict: jittered exponential backoff, with an injected pause and random source."""

from __future__ import annotations

import random
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmcore.application import ConcurrencyConflict, retry_on_conflict
from vmcore.application.retries import CONFLICT_BACKOFF
from vmcore.bus import RetryPolicy


class Racer:
    """An operation that loses ``losses`` races, then wins."""

    def __init__(self, losses: int) -> None:
        self.losses = losses
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.losses:
            raise ConcurrencyConflict([uuid.UUID(int=1)])
        return self.calls


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_waits_a_growing_capped_time_between_attempts() -> None:
    pauses: list[float] = []
    policy = RetryPolicy.exponential(8, 0.002, max_delay=0.05, jitter=1.0, rng=FixedRandom(0.0))
    assert 7 == retry_on_conflict(Racer(6), policy=policy, sleep=pauses.append)
    assert [0.002, 0.004, 0.008, 0.016, 0.032, 0.05] == pytest.approx(pauses)


@given(st.lists(st.floats(0.0, 0.999), min_size=9, max_size=9))
def test_each_pause_is_drawn_uniformly_below_its_cap(draws: list[float]) -> None:
    values = iter(draws)

    class Draws(random.Random):
        def random(self) -> float:
            return next(values)

    pauses: list[float] = []
    policy = RetryPolicy.exponential(10, 0.002, max_delay=0.25, jitter=1.0, rng=Draws())
    retry_on_conflict(Racer(9), policy=policy, sleep=pauses.append)
    caps = [min(0.25, 0.002 * 2 ** n) for n in range(9)]
    assert [cap * (1 - d) for cap, d in zip(caps, draws, strict=True)] == pytest.approx(pauses)


def test_the_last_conflict_is_raised_after_the_attempts() -> None:
    racer, pauses = Racer(100), []
    with pytest.raises(ConcurrencyConflict):
        retry_on_conflict(racer, attempts=3, sleep=pauses.append)
    assert (3, 2) == (racer.calls, len(pauses))


def test_other_errors_are_not_retried() -> None:
    calls = []

    def fails() -> None:
        calls.append(1)
        raise KeyError("x")

    with pytest.raises(KeyError):
        retry_on_conflict(fails, sleep=lambda _: None)
    assert 1 == len(calls)


def test_the_default_policy_backs_off_with_full_jitter() -> None:
    assert (10, 0.002, 2.0, 0.25, 1.0) == (
        CONFLICT_BACKOFF.max_attempts, CONFLICT_BACKOFF.base_delay,
        CONFLICT_BACKOFF.multiplier, CONFLICT_BACKOFF.max_delay, CONFLICT_BACKOFF.jitter)
