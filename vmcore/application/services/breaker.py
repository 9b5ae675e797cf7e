"""A circuit breaker per domain service: closed, open, half-open, on an injected clock.

Rules (seed 004's defaults): closed → open after ``failure_threshold`` failures within
``time_window`` seconds; open → half-open once ``timeout`` seconds have passed (checked
lazily, when the next event arrives or the state is read: no timer); half-open → closed
after ``success_threshold`` successes in a row, back to open on any failure.

Written here rather than taken from pybreaker or aiobreaker: both read the wall clock
(``datetime.now``) inside their state objects, so a test cannot drive time, and both count
consecutive failures instead of failures within a time window.
"""

from __future__ import annotations

import enum
import threading
from collections import deque
from collections.abc import Callable

from attrs import field, frozen, validators


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    """The service's breaker is open: the event was not handed to its handler."""

    def __init__(self, service: str) -> None:
        self.service = service
        super().__init__(f"the circuit breaker of service {service!r} is open")


@frozen
class BreakerSettings:
    failure_threshold: int = field(default=5, validator=validators.ge(1))
    success_threshold: int = field(default=2, validator=validators.ge(1))
    timeout: float = field(default=30.0, validator=validators.ge(0.0))
    time_window: float = field(default=60.0, validator=validators.gt(0.0))


StateListener = Callable[[BreakerState, BreakerState], None]
_Changes = list[tuple[BreakerState, BreakerState]]


class CircuitBreaker:
    """Decides whether a call may go through and learns from how calls end."""

    def __init__(self, settings: BreakerSettings | None = None, *,
                 clock: Callable[[], float],
                 on_change: StateListener | None = None) -> None:
        self.settings = settings or BreakerSettings()
        self._now = clock
        self._state = BreakerState.CLOSED
        self._failures: deque[float] = deque()
        self._successes = 0
        self._opened_at = 0.0
        self.on_change = on_change
        self._lock = threading.Lock()
        """Publishers' threads and the bus's loop thread may record at once."""
        self.opened = 0
        """How many times the breaker has opened."""

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose timeout has passed reads half-open)."""
        with self._lock:
            change = self._expire()
            state = self._state
        self._notify(change)
        return state

    def allow(self) -> bool:
        """Whether a call may go through now (closed or half-open)."""
        return self.state is not BreakerState.OPEN

    def record_success(self) -> None:
        with self._lock:
            change = self._expire()
            if self._state is BreakerState.HALF_OPEN:
                self._successes += 1
                if self._successes >= self.settings.success_threshold:
                    change = self._move(BreakerState.CLOSED, change)
        self._notify(change)

    def record_failure(self) -> None:
        with self._lock:
            change = self._expire()
            now = self._now()
            if self._state is BreakerState.HALF_OPEN:
                change = self._open(now, change)
            elif self._state is BreakerState.CLOSED:
                failures = self._failures
                failures.append(now)
                while failures and now - failures[0] >= self.settings.time_window:
                    failures.popleft()
                if len(failures) >= self.settings.failure_threshold:
                    change = self._open(now, change)
        self._notify(change)

    def reset(self) -> None:
        """Back to closed with no failures counted (a restart of the service)."""
        with self._lock:
            change = self._move(BreakerState.CLOSED)
        self._notify(change)

    def _expire(self) -> _Changes:
        if (self._state is BreakerState.OPEN
                and self._now() - self._opened_at >= self.settings.timeout):
            return self._move(BreakerState.HALF_OPEN)
        return []

    def _open(self, now: float, changes: _Changes) -> _Changes:
        self._opened_at = now
        self.opened += 1
        return self._move(BreakerState.OPEN, changes)

    def _move(self, new: BreakerState, changes: _Changes | None = None) -> _Changes:
        """Change state (under the lock); the listener is told after the lock is released,
        so it may call back into the breaker (a redrive does)."""
        old, self._state = self._state, new
        self._failures.clear()
        self._successes = 0
        changes = list(changes or [])
        if old is not new:
            changes.append((old, new))
        return changes

    def _notify(self, changes: _Changes) -> None:
        if self.on_change is not None:
            for old, new in changes:
                self.on_change(old, new)
