"""Retry policies: none, fixed delay, or exponential backoff with jitter and a cap."""

from __future__ import annotations

import random
from collections.abc import Callable

from attrs import field, frozen, validators


def _always(error: BaseException) -> bool:
    return True


@frozen
class RetryPolicy:
    """How often and how long to wait before handing an event to a failing handler again.

    ``max_attempts`` counts the first delivery (1 means no retry). The delay before attempt
    ``n + 1`` is ``min(max_delay, base_delay * multiplier ** (n - 1))``, then reduced by up to
    ``jitter`` (a fraction, "equal jitter") drawn from ``rng``. Errors for which ``retryable``
    returns false are dead-lettered at once.
    """

    max_attempts: int = field(default=1, validator=validators.ge(1))
    base_delay: float = field(default=0.0, validator=validators.ge(0.0))
    multiplier: float = field(default=1.0, validator=validators.ge(1.0))
    max_delay: float = field(default=float("inf"), validator=validators.ge(0.0))
    jitter: float = field(default=0.0, validator=[validators.ge(0.0), validators.le(1.0)])
    retryable: Callable[[BaseException], bool] = _always
    rng: random.Random = field(factory=random.Random, eq=False, repr=False)

    @classmethod
    def none(cls) -> RetryPolicy:
        """Deliver once; a failure goes straight to the dead letters."""
        return cls()

    @classmethod
    def fixed(
        cls,
        attempts: int,
        delay: float,
        retryable: Callable[[BaseException], bool] = _always,
    ) -> RetryPolicy:
        """Up to ``attempts`` deliveries, ``delay`` seconds apart."""
        return cls(max_attempts=attempts, base_delay=delay, retryable=retryable)

    @classmethod
    def exponential(
        cls,
        attempts: int,
        base_delay: float,
        *,
        multiplier: float = 2.0,
        max_delay: float = 30.0,
        jitter: float = 0.0,
        retryable: Callable[[BaseException], bool] = _always,
        rng: random.Random | None = None,
    ) -> RetryPolicy:
        """Exponential backoff capped at ``max_delay``, optionally jittered."""
        return cls(
            max_attempts=attempts,
            base_delay=base_delay,
            multiplier=multiplier,
            max_delay=max_delay,
            jitter=jitter,
            retryable=retryable,
            rng=rng or random.Random(),
        )

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether a delivery that failed on ``attempt`` (1-based) is tried again."""
        return attempt < self.max_attempts and self.retryable(error)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed ``attempt`` (1-based) before the next one."""
        raw = min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))
        if self.jitter:
            raw -= raw * self.jitter * self.rng.random()
        return raw


NO_RETRY = RetryPolicy()
