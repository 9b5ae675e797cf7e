"""The lifecycle state machine on the in-memory store (the integration suite runs it on
SQLite, the file store and PostgreSQL)."""

from hypothesis import HealthCheck, settings

from vmcore.testing import VmLifecycleMachine

VmLifecycleMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestVmLifecycleInMemory = VmLifecycleMachine.TestCase
