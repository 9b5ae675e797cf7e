"""The ControlPlane on every store: use cases, snapshots, conflicts, names, queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vmcore.application import (
    ConcurrencyConflict,
    ControlPlane,
    EventQuery,
    NameTaken,
    VersionNotFound,
    VmNotFound,
    retry_on_conflict,
)
from vmcore.domain import CommandContext, IllegalTransition, Trn, VmConfig, VmState


def test_lifecycle_round_trip_through_the_store(vmcore_store_env: dict[str, str]) -> None:
    with ControlPlane(vmcore_store_env, snapshot_interval=4) as cp:
        vm_id = cp.create_vm("web-1", VmConfig(vcpus=2, memory="512M"))
        cp.start_vm("web-1")
        cp.pause_vm(vm_id)
        cp.snapshot_vm("web-1", "s1")
        cp.resume_vm("web-1")
        cp.shutdown_vm("web-1")
        cp.record_guest_exit("web-1", 7)
        with pytest.raises(IllegalTransition):
            cp.resume_vm("web-1")
        live = cp.get_vm("web-1")
        assert (VmState.STOPPED, 7, 7) == (live.state, live.exit_code, live.version)
        assert live == cp.replay_vm(vm_id)
        assert [4] == [s.originator_version for s in cp.snapshots.get(vm_id)]  # type: ignore[union-attr]
        assert VmState.PAUSED == cp.get_vm(vm_id, version=3).state
        assert VmState.RUNNING == cp.get_vm(vm_id, version=5).state
        assert 7 == len(cp.history("web-1"))


def test_a_second_application_on_the_same_store_sees_everything(
        persistent_store_env: dict[str, str]) -> None:
    with ControlPlane(persistent_store_env) as first:
        vm_id = first.create_vm("db-1", VmConfig())
        first.start_vm(vm_id)
        with ControlPlane(persistent_store_env) as second:
            assert first.get_vm(vm_id) == second.get_vm("db-1")
            assert ["db-1"] == [vm.name for vm in second.list_vms()]


def test_stale_writes_surface_as_typed_conflicts(vmcore_store_env: dict[str, str]) -> None:
    with ControlPlane(vmcore_store_env) as cp:
        vm_id = cp.create_vm("web-1", VmConfig())
        stale = cp.get_vm(vm_id)
        cp.start_vm(vm_id)
        stale.start()
        with pytest.raises(ConcurrencyConflict) as conflict:
            cp.save(stale)
        assert [vm_id] == conflict.value.aggregate_ids
        assert 2 == cp.get_vm(vm_id).version

        attempts = []

        def pause_after_one_conflict() -> int:
            attempts.append(1)
            vm = cp.get_vm(vm_id)
            if len(attempts) == 1:
                cp.execute(vm_id, lambda other: other.add_device("net0", "virtio-net"))
            vm.pause()
            cp.save(vm)
            return vm.version

        assert 4 == retry_on_conflict(pause_after_one_conflict)
        assert 2 == len(attempts)


def test_names_are_unique_and_released_on_delete(vmcore_store_env: dict[str, str]) -> None:
    with ControlPlane(vmcore_store_env) as cp:
        first = cp.create_vm("web-1", VmConfig())
        with pytest.raises(NameTaken):
            cp.create_vm("web-1", VmConfig())
        cp.delete_vm("web-1")
        with pytest.raises(VmNotFound):
            cp.get_vm("web-1")
        second = cp.create_vm("web-1", VmConfig())
        assert first != second
        assert second == cp.resolve("web-1")
        assert [second] == [vm.id for vm in cp.list_vms()]
        assert {first, second} == {vm.id for vm in cp.list_vms(include_deleted=True)}


def test_events_are_queried_across_vms(vmcore_store_env: dict[str, str]) -> None:
    alice = CommandContext(actor=Trn.parse("trn:user:alice"), correlation_id="req-a")
    with ControlPlane(vmcore_store_env) as cp:
        before = datetime.now(UTC)
        a = cp.create_vm("a", VmConfig(), context=alice)
        b = cp.create_vm("b", VmConfig())
        cp.start_vm(a, context=alice)
        cp.start_vm(b)
        cp.crash_vm(b, "oops")
        started = cp.query_events(EventQuery(topic="vm.started"))
        assert [a, b] == [e.originator_id for e in started]
        assert 5 == len(cp.query_events(EventQuery(topic="vm.*", since=before)))
        assert [] == cp.query_events(EventQuery(since=datetime.now(UTC)))
        by_alice = cp.query_events(EventQuery(trn="trn:user:alice"))
        assert [("vm.created", a), ("vm.started", a)] == [
            (e.bus_topic, e.originator_id) for e in by_alice]
        assert 2 == len(cp.query_events(EventQuery(correlation_id="req-a")))
        assert [b] == [e.originator_id for e in cp.query_events(EventQuery(trn="trn:vm:b",
                                                                           topic="vm.crash*"))]
        by_vm = cp.query_events(EventQuery(vm_id=b))
        assert [e.originator_version for e in cp.history(b)] == [
            e.originator_version for e in by_vm]
        assert {b} == {e.originator_id for e in by_vm}
        assert [a] == [e.originator_id for e in cp.query_events(EventQuery(vm_id=a,
                                                                           topic="vm.started"))]


def test_a_version_the_vm_never_had_is_named(vmcore_store_env: dict[str, str]) -> None:
    with ControlPlane(vmcore_store_env, snapshot_interval=2) as cp:
        vm_id = cp.create_vm("web-1", VmConfig())
        cp.start_vm(vm_id)
        cp.pause_vm(vm_id)
        for version in (0, 4):
            with pytest.raises(VersionNotFound) as missing:
                cp.get_vm("web-1", version=version)
            assert "VM 'web-1' has versions 1 to 3, not " + str(version) == str(missing.value)
