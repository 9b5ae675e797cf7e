"""The fleet view (``vm list``): a projection following the notification log, on every store."""

from __future__ import annotations

from vmcore.application import ControlPlane
from vmcore.application.fleet_view import VIEW_ID, VmSummary
from vmcore.domain import VmConfig


def _fresh(cp: ControlPlane) -> list[VmSummary]:
    """What the view must say: every VM's summary computed from its aggregate."""
    return [VmSummary.of(cp.get_vm(vm_id)) for vm_id in cp.vm_ids()]


def _positions(cp: ControlPlane) -> list[int]:
    views = cp.fleet_view().views
    return [record.originator_version for record in views.select_events(VIEW_ID)]


def test_the_fleet_view_follows_the_log(vmcore_store_env: dict[str, str]) -> None:
    with ControlPlane(vmcore_store_env) as cp:
        assert [] == cp.list_vms()
        ids = [cp.create_vm(f"vm-{i}", VmConfig(vcpus=1 + i % 3)) for i in range(5)]
        assert _fresh(cp) == cp.list_vms()  # built and saved once (it was empty)
        assert 1 == len(_positions(cp))
        cp.start_vm(ids[0])
        cp.pause_vm(ids[0])
        cp.delete_vm(ids[1])
        listed = cp.list_vms(include_deleted=True)
        assert _fresh(cp) == listed
        assert [ids[0], *ids[2:]] == [row.id for row in cp.list_vms()]
        assert ("paused", 3, 1) == (listed[0].state.value, listed[0].version, listed[0].vcpus)


def test_a_second_application_catches_up_and_saves_its_position(
        persistent_store_env: dict[str, str]) -> None:
    with ControlPlane(persistent_store_env) as first, ControlPlane(persistent_store_env) as second:
        vm_id = first.create_vm("db-1", VmConfig())
        assert ["db-1"] == [row.name for row in second.list_vms()]
        second.fleet_view().save_after = 3
        for _ in range(3):
            first.start_vm(vm_id)
            first.stop_vm(vm_id)
        assert _fresh(first) == second.list_vms()
        positions = _positions(second)
        assert 2 == len(positions) and positions[0] < positions[1]
        assert 7 == second.list_vms()[0].version
        with ControlPlane(persistent_store_env) as third:  # starts from the saved position
            assert _fresh(first) == third.list_vms()
