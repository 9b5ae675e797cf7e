"""Retrying an intent that lost a race: :func:`retry_on_conflict`, with jittered backoff.

When several writers race on one VM, the losers of a round retry at once and meet each other
again in the next round; with eight processes on one VM about one operation in twenty used
up twenty immediate attempts. Each retry therefore waits first: a delay drawn uniformly
from zero up to an exponentially growing cap ("full jitter", as AWS's architecture note on
backoff calls it), so the losers spread out and most of them find the VM quiet. The policy
is the bus's :class:`~vmcore.bus.retry.RetryPolicy` (one backoff formula for the project);
the pause and the random source are injectable, so tests run without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from attrs import evolve

from vmcore.application.errors import ConcurrencyConflict
from vmcore.bus.retry import RetryPolicy

T = TypeVar("T")


def _is_conflict(error: BaseException) -> bool:
    return isinstance(error, ConcurrencyConflict)


CONFLICT_BACKOFF = RetryPolicy.exponential(
    10, 0.002, multiplier=2.0, max_delay=0.25, jitter=1.0, retryable=_is_conflict
)
"""The default: up to 10 attempts; before attempt n+1 wait a uniform random time in
[0, min(0.25 s, 2 ms * 2**(n-1))]."""


def retry_on_conflict(
    operation: Callable[[], T],
    *,
    attempts: int | None = None,
    policy: RetryPolicy = CONFLICT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``operation`` (which must re-read what it decides on), retrying it after a
    jittered, growing pause when a concurrent writer got there first. ``attempts``
    overrides the policy's number of attempts. The last conflict is re-raised.

    >>> retry_on_conflict(lambda: 42)
    42
    """
    if attempts is not None:
        policy = evolve(policy, max_attempts=attempts)
    attempt = 1
    while True:
        try:
            return operation()
        except ConcurrencyConflict as conflict:
            if not policy.should_retry(conflict, attempt):
                raise
            sleep(policy.delay(attempt))
            attempt += 1
