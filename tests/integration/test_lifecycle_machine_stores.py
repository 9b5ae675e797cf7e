"""vmcore.testing's lifecycle state machine on real stores."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from tests.integration.conftest import PERSISTENT_KINDS, store_env
from vmcore.application import ControlPlane
from vmcore.testing import VmLifecycleMachine

SETTINGS = settings(max_examples=12, stateful_step_count=20, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", PERSISTENT_KINDS)
def test_lifecycle_invariants_hold_on_store(kind: str,
                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    made: list[ControlPlane] = []

    class OnStore(VmLifecycleMachine):
        def make_control_plane(self) -> ControlPlane:
            path = tmp_path_factory.mktemp(kind)
            made.append(ControlPlane(store_env(kind, path), snapshot_interval=3))
            return made[-1]

    OnStore.TestCase.settings = SETTINGS
    OnStore.TestCase("runTest").runTest()
    assert made
