"""The circuit breaker against its rules, driven by a fake clock (hypothesis state machine)."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from vmcore.application.services import BreakerSettings, BreakerState, CircuitBreaker
from vmcore.bus import FakeClock


class BreakerRules(RuleBasedStateMachine):
    """A model of the rules, written from the issue's text, checked step by step."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.settings = BreakerSettings(failure_threshold=3, success_threshold=2,
                                        timeout=30.0, time_window=60.0)
        self.changes: list[tuple[BreakerState, BreakerState]] = []
        self.breaker = CircuitBreaker(self.settings, clock=self.clock.now,
                                      on_change=lambda a, b: self.changes.append((a, b)))
        self.state = BreakerState.CLOSED
        self.failures: list[float] = []
        self.successes = 0
        self.opened_at = 0.0
        self.expected_changes: list[tuple[BreakerState, BreakerState]] = []

    def _to(self, new: BreakerState) -> None:
        self.expected_changes.append((self.state, new))
        self.state = new

    def _model_state(self) -> BreakerState:
        if (self.state is BreakerState.OPEN
                and self.clock.now() - self.opened_at >= self.settings.timeout):
            self._to(BreakerState.HALF_OPEN)
            self.successes = 0
        return self.state

    @rule(seconds=st.sampled_from([0.0, 0.5, 5.0, 29.9, 30.0, 59.9, 60.0, 120.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def fail(self) -> None:
        state, now = self._model_state(), self.clock.now()
        if state is BreakerState.CLOSED:
            self.failures = [t for t in self.failures if now - t < self.settings.time_window]
            self.failures.append(now)
            if len(self.failures) >= self.settings.failure_threshold:
                self._to(BreakerState.OPEN)
                self.opened_at, self.failures = now, []
        elif state is BreakerState.HALF_OPEN:
            self._to(BreakerState.OPEN)
            self.opened_at = now
        self.breaker.record_failure()

    @precondition(lambda self: self._model_state() is not BreakerState.OPEN)
    @rule()
    def succeed(self) -> None:
        if self._model_state() is BreakerState.HALF_OPEN:
            self.successes += 1
            if self.successes >= self.settings.success_threshold:
                self._to(BreakerState.CLOSED)
                self.failures = []
        self.breaker.record_success()

    @invariant()
    def same_state(self) -> None:
        assert self._model_state() == self.breaker.state

    @invariant()
    def allows_unless_open(self) -> None:
        assert (self._model_state() is not BreakerState.OPEN) == self.breaker.allow()

    @invariant()
    def the_listener_hears_every_transition(self) -> None:
        self._model_state()
        self.breaker.allow()
        assert self.expected_changes == self.changes

    @invariant()
    def changes_are_edges_of_the_machine(self) -> None:
        edges = {(BreakerState.CLOSED, BreakerState.OPEN),
                 (BreakerState.OPEN, BreakerState.HALF_OPEN),
                 (BreakerState.HALF_OPEN, BreakerState.OPEN),
                 (BreakerState.HALF_OPEN, BreakerState.CLOSED)}
        assert set(self.changes) <= edges


TestBreakerRules = BreakerRules.TestCase
TestBreakerRules.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_the_defaults_are_seed_004s() -> None:
    assert (5, 2, 30.0, 60.0) == (lambda s: (s.failure_threshold, s.success_threshold,
                                             s.timeout, s.time_window))(BreakerSettings())


def test_failures_outside_the_window_do_not_open_it() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerSettings(failure_threshold=2, time_window=10),
                             clock=clock.now)
    breaker.record_failure()
    clock.advance(10)
    breaker.record_failure()
    assert BreakerState.CLOSED == breaker.state
    breaker.record_failure()
    assert BreakerState.OPEN == breaker.state
