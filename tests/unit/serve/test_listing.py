"""The server's VM listing equals the ControlPlane's, whatever happened since last asked."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.application.control_plane import ControlPlane
from vmcore.application.errors import VmcoreError
from vmcore.composition import StoreSpec
from vmcore.domain import DomainError, VmConfig
from vmcore.entrypoints.http.listing import VmListing

STEPS = st.lists(st.tuples(st.sampled_from(["create", "start", "pause", "resume", "stop",
                                            "delete", "look"]), st.integers(0, 3)),
                 max_size=30)


@settings(max_examples=40, deadline=None)
@given(steps=STEPS)
def test_listing_matches_the_control_plane(steps: list[tuple[str, int]]) -> None:
    cp = ControlPlane(StoreSpec("memory").env())
    listing = VmListing(cp)
    try:
        for action, n in steps:
            name = f"vm-{n}"
            try:
                if action == "create":
                    cp.create_vm(name, VmConfig())
                elif action == "look":
                    pass
                else:
                    getattr(cp, f"{action}_vm")(name)
            except (DomainError, VmcoreError):
                pass  # refused: nothing recorded
            for deleted in (False, True):
                expected = [(vm.id, vm.version) for vm in cp.list_vms(include_deleted=deleted)]
                actual = [(vm.id, vm.version)
                          for vm in listing.list_vms(include_deleted=deleted)]
                assert expected == actual
                cached = listing.cached(cp.recorder.max_notification_id() or 0,
                                        include_deleted=deleted)
                assert expected == [(vm.id, vm.version) for vm in cached or []]
    finally:
        cp.close()
