"""A token-bucket rate limiter on an injected clock.

``capacity`` tokens at most; ``rate`` tokens come back per second. ``try_acquire`` takes a
token or says no at once (a synchronous handler over its rate is refused: the event goes
to the dead letters with :class:`RateLimited`); ``acquire`` waits on the clock until one is
there (an ``async def`` handler over its rate is slowed down, not refused). ``vmcore serve``
can use one bucket per client the same way.

Written here rather than taken from aiolimiter or limits: aiolimiter is asyncio-only and
reads the loop's clock; limits offers fixed and moving windows, not a token bucket, and its
storage reads ``time.time``. Neither lets a test drive time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from attrs import field, frozen, validators


class RateLimited(Exception):
    """No token was left for this call."""


@frozen
class LimiterSettings:
    capacity: float = field(validator=validators.gt(0))
    rate: float = field(validator=validators.gt(0))


class TokenBucket:
    def __init__(self, capacity: float, rate: float, *, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError("a token bucket needs capacity > 0 and rate > 0")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._now = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._at = clock()
        self.refused = 0

    @classmethod
    def of(cls, settings: LimiterSettings, *, clock: Callable[[], float],
           sleep: Callable[[float], Awaitable[None]] | None = None) -> TokenBucket:
        return cls(settings.capacity, settings.rate, clock=clock, sleep=sleep)

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._now()
        elapsed = now - self._at
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._at = now

    def try_acquire(self, tokens: float = 1.0) -> bool:
        """Take ``tokens`` if there are enough now."""
        self._refill()
        if self._tokens >= tokens:
            self._tokens -= tokens
            return True
        self.refused += 1
        return False

    def wait_time(self, tokens: float = 1.0) -> float:
        """Seconds until ``tokens`` will be there (0 if they are now)."""
        self._refill()
        return max(0.0, (tokens - self._tokens) / self.rate)

    async def acquire(self, tokens: float = 1.0) -> None:
        """Take ``tokens``, waiting on the clock for them to come back."""
        if tokens > self.capacity:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.capacity}")
        assert self._sleep is not None, "acquire needs a sleep function"
        while not self.try_acquire(tokens):
            self.refused -= 1  # waiting is not refusing
            await self._sleep(self.wait_time(tokens))
