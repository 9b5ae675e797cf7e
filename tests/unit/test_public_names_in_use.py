"""Public names that only users call: each test shows one in use (issue 10: public names
nothing calls go, or get a test that shows their use)."""

from __future__ import annotations

from vmcore.domain import VirtualMachine, VmConfig
from vmcore_domain_services.execution import Machine
from vmcore_domain_services.riscv.asm import assemble, encode

CREATED, DELETED = VirtualMachine.Created.bus_topic, VirtualMachine.Deleted.bus_topic


def test_event_ids_name_the_vm_and_version_for_causation_chains() -> None:
    vm = VirtualMachine.create("web-1", VmConfig())
    vm.start()
    created, started = vm.collect_events()
    assert [f"{vm.id}:1", f"{vm.id}:2"] == [created.event_id, started.event_id]


def test_a_diff_snapshot_stores_only_the_pages_written_since_its_base() -> None:
    machine = Machine(1 << 20, console=lambda b: None)
    machine.memory.write_bytes(0x8000_0000, assemble([encode("ebreak")]))
    machine.memory.write_bytes(0x8001_0000, b"\x01" * 4096)
    full = machine.capture_state()
    machine.memory.write_bytes(0x8002_0000, b"\x02" * 4096)
    diff = machine.capture_state(base=full)
    assert (2 * 4096, 4096) == (full.stored_bytes(), diff.stored_bytes())
