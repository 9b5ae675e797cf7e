from typing import Any

import pytest

from vmcore.domain import (
    CommandContext,
    IllegalTransition,
    InvalidValue,
    InvariantViolation,
    PauseReason,
    Trn,
    VirtualMachine,
    VmConfig,
    VmState,
    allowed_commands,
)


def new_vm(**config: Any) -> VirtualMachine:
    vm = VirtualMachine.create("web-1", VmConfig(**({"vcpus": 2, "memory": "1G"} | config)))
    vm.collect_events()
    return vm


def running_vm(**config: Any) -> VirtualMachine:
    vm = new_vm(**config)
    vm.start()
    vm.collect_events()
    return vm


def test_a_new_vm_is_created_at_version_one() -> None:
    vm = VirtualMachine.create("web-1", VmConfig(vcpus=2, memory="512M"))
    events = vm.collect_events()
    assert (VmState.CREATED, 1, ["vm.created"]) == (
        vm.state, vm.version, [e.bus_topic for e in events])


def test_an_illegal_command_names_vm_command_and_state_and_records_nothing() -> None:
    vm = running_vm()
    with pytest.raises(IllegalTransition) as refused:
        vm.delete()
    assert ("delete", "running", "web-1") == (
        refused.value.command, refused.value.state, refused.value.vm_name)
    assert f"VM 'web-1' ({vm.id}) cannot delete while running" == str(refused.value)
    assert ([], 2) == (vm.pending_events, vm.version)


def test_full_lifecycle_follows_the_table() -> None:
    vm = new_vm()
    vm.start(startup_time_ms=12)
    vm.pause(PauseReason.WATCHDOG)
    assert (VmState.PAUSED, "watchdog") == (vm.state, vm.reason)
    vm.snapshot("s1")
    vm.resume()
    vm.shutdown()
    vm.guest_exited(3)
    assert (VmState.STOPPED, "shutdown", 3) == (vm.state, vm.reason, vm.exit_code)
    vm.restore("s1", resume=True)
    assert VmState.RUNNING == vm.state
    vm.migrate("trn:host:b")
    vm.cancel_migration("target full")
    vm.migrate("trn:host:c")
    vm.complete_migration()
    assert (VmState.STOPPED, "migrated") == (vm.state, vm.reason)
    vm.delete()
    assert VmState.DELETED == vm.state
    assert [] == allowed_commands(VmState.DELETED)


def test_start_failure_and_crash_record_the_error() -> None:
    vm = new_vm()
    vm.fail_start("no firmware")
    assert (VmState.STOPPED, "failed", "no firmware") == (vm.state, vm.reason, vm.last_error)
    vm.start()
    vm.crash("triple fault")
    assert (VmState.CRASHED, "triple fault") == (vm.state, vm.last_error)
    vm.start()
    assert VmState.RUNNING == vm.state


def test_hotplug_while_running_is_bounded_by_the_maxima() -> None:
    vm = running_vm(max_vcpus=4, max_memory="2G")
    vm.update_config(VmConfig(vcpus=4, memory="2G", max_vcpus=4, max_memory="2G"))
    assert (4, 2 << 30) == (vm.config.vcpus, vm.config.memory)
    with pytest.raises(InvariantViolation, match="only vcpus and memory"):
        vm.update_config(VmConfig(vcpus=5, memory="2G", max_vcpus=5, max_memory="2G"))
    with pytest.raises(InvariantViolation, match="only vcpus and memory"):
        vm.update_config(VmConfig(vcpus=4, memory="2G", max_vcpus=4, max_memory="2G",
                                  arch="x86_64"))
    with pytest.raises(InvariantViolation, match="hot-unplug"):
        vm.update_config(VmConfig(vcpus=2, memory="2G", max_vcpus=4, max_memory="2G"))


def test_without_maxima_a_running_vm_cannot_grow() -> None:
    vm = running_vm()
    with pytest.raises(InvariantViolation, match="3 vCPUs exceeds max_vcpus 2"):
        vm.update_config(VmConfig(vcpus=3, memory="1G"))
    with pytest.raises(InvariantViolation, match="memory 2G exceeds max_memory 1G"):
        vm.update_config(VmConfig(vcpus=2, memory="2G"))


def test_config_changes_freely_while_stopped_but_not_paused() -> None:
    vm = new_vm()
    vm.update_config(VmConfig(vcpus=8, memory="4G", arch="aarch64"))
    assert VmState.CREATED == vm.state
    vm.start()
    vm.pause()
    with pytest.raises(IllegalTransition):
        vm.update_config(VmConfig())


def test_memory_regions_never_overlap_or_exceed_the_configured_size() -> None:
    vm = new_vm(memory="1M")
    vm.allocate_memory("low", 0, 512 << 10)
    with pytest.raises(InvariantViolation, match="overlaps 'low'"):
        vm.allocate_memory("mid", 256 << 10, 512 << 10)
    with pytest.raises(InvariantViolation, match="beyond the configured 1M"):
        vm.allocate_memory("high", 512 << 10, 1 << 20)
    with pytest.raises(InvalidValue, match="unknown memory type"):
        vm.allocate_memory("odd", 512 << 10, 4096, "flash")
    with pytest.raises(InvariantViolation, match="would cut"):
        vm.update_config(VmConfig(vcpus=2, memory="256K"))
    vm.map_memory("low", 0x7F00_0000_0000)
    with pytest.raises(InvariantViolation, match="unmap it first"):
        vm.free_memory("low")
    vm.unmap_memory("low")
    vm.free_memory("low")
    assert [] == vm.memory_regions


def test_devices_are_added_once_and_removed_by_id() -> None:
    vm = running_vm()
    vm.add_device("net0", "virtio-net", {"queues": 2})
    with pytest.raises(InvariantViolation, match="already exists"):
        vm.add_device("net0", "virtio-net")
    vm.remove_device("net0")
    with pytest.raises(InvariantViolation, match="no device"):
        vm.remove_device("net0")


def test_snapshots_need_a_paused_vm_and_diffs_need_a_base() -> None:
    vm = running_vm()
    with pytest.raises(IllegalTransition):
        vm.snapshot("s1")
    vm.pause()
    vm.snapshot("s1")
    vm.snapshot("s2", kind="diff", base_snapshot_id="s1")
    with pytest.raises(InvariantViolation, match="needs an existing base"):
        vm.snapshot("s3", kind="diff", base_snapshot_id="nope")
    with pytest.raises(InvariantViolation, match="already exists"):
        vm.snapshot("s1")
    vm.stop()
    with pytest.raises(InvariantViolation, match="no snapshot 'x'"):
        vm.restore("x")
    vm.restore("s2")
    assert (VmState.PAUSED, "snapshot") == (vm.state, vm.reason)


def test_events_carry_metadata_from_the_command_context() -> None:
    ctx = CommandContext(actor=Trn.parse("trn:user:alice"), correlation_id="req-1",
                         causation_id="msg-9", source=Trn.parse("trn:service:api"),
                         tags=("blue",))
    vm = VirtualMachine.create("web-1", VmConfig(), context=ctx)
    vm.start(context=ctx.caused_by("web-1:1"))
    created, started = vm.collect_events()
    assert {"correlation_id": "req-1", "causation_id": "msg-9", "actor": "trn:user:alice",
            "source": "trn:service:api", "target": "trn:vm:web-1",
            "tags": ["blue"]} == created.meta
    assert ("req-1", "web-1:1", ["blue"]) == (
        started.correlation_id, started.causation_id, started.event_tags)


def test_commands_without_context_get_fresh_correlation_ids() -> None:
    vm = new_vm()
    vm.start()
    vm.pause()
    started, paused = vm.collect_events()
    assert started.correlation_id != paused.correlation_id


@pytest.mark.parametrize("name", ["", "Web", "-a", "a-", "a" * 64, "a_b"])
def test_vm_names_are_dns_labels(name: str) -> None:
    with pytest.raises(InvalidValue, match="VM name"):
        VirtualMachine.create(name, VmConfig())
