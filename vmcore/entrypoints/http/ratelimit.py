"""A token bucket per client: ``rate`` requests a second on average, bursts up to ``burst``.

The clock is injected (``time.monotonic`` by default) so tests step time themselves.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from attrs import define, field


@define
class _Bucket:
    tokens: float
    updated: float


@define
class RateLimiter:
    """``take(key)`` returns 0.0 when the request may go, else the seconds to wait."""

    rate: float = 50.0
    burst: int = 100
    clock: Callable[[], float] = time.monotonic
    max_clients: int = 10_000
    _buckets: OrderedDict[str, _Bucket] = field(factory=OrderedDict, init=False)

    def __attrs_post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")

    def take(self, key: str) -> float:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self.max_clients:  # forget the least recently seen
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


def retry_after(wait: float) -> str:
    """The ``Retry-After`` header value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(wait)))
