"""Guests run as VMs: every lifecycle step is an event in the VM's stream."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from vmcore.application import ControlPlane
from vmcore.application.guest_runner import GuestImageError, GuestRunner, Outcome, boot
from vmcore.domain import VmState

ROOT = Path(__file__).resolve().parents[2]
GUESTS = ROOT / "examples" / "guests"

SPIN = """
    .section .text.start, "ax"
    .globl _start
_start:
1:  addi a0, a0, 1
    j 1b
"""
FAULT = """
    .section .text.start, "ax"
    .globl _start
_start:
    li t0, 0x40000000
    ld t1, 0(t0)
"""


def build(tmp_path: Path, name: str, source: str) -> str:
    asm = tmp_path / f"{name}.S"
    asm.write_text(source)
    elf = tmp_path / f"{name}.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", "-march=rv64imac_zicsr", "-mabi=lp64",
                    "-nostdlib", "-static", "-T", str(GUESTS / "link.ld"), str(asm),
                    "-o", str(elf)], check=True)
    return str(elf)


def topics(cp: ControlPlane, runner: GuestRunner) -> list[str]:
    return [event.bus_topic for event in cp.history(runner.vm_id)]


@pytest.fixture
def cp() -> ControlPlane:
    return ControlPlane({"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_hello_exits_and_is_recorded_as_stopped_with_its_exit_code(cp: ControlPlane) -> None:
    console = bytearray()
    runner, startup_ms = boot(cp, "hello", str(GUESTS / "build" / "hello.elf"), 1 << 20,
                              console=console.extend)
    summary = runner.run(startup_time_ms=startup_ms)
    assert (Outcome.EXITED, 0) == (summary.outcome, summary.exit_code)
    assert b"Hello from RISC-V on vmcore!\n" == bytes(console)
    vm = cp.get_vm(runner.vm_id)
    assert (VmState.STOPPED, "shutdown", 0) == (vm.state, vm.reason, vm.exit_code)
    assert ["vm.created", "vm.started", "vm.stopped"] == topics(cp, runner)


def test_an_unhandled_fault_is_recorded_as_a_crash(cp: ControlPlane, tmp_path: Path) -> None:
    runner, _ = boot(cp, "faulty", build(tmp_path, "fault", FAULT), 1 << 20)
    summary = runner.run()
    assert Outcome.CRASHED == summary.outcome
    vm = cp.get_vm(runner.vm_id)
    assert VmState.CRASHED == vm.state
    assert "unhandled trap: cause 0x5" in (vm.last_error or "")


def test_the_instruction_budget_is_exact_and_ends_in_a_forced_stop(
        cp: ControlPlane, tmp_path: Path) -> None:
    runner, _ = boot(cp, "spin", build(tmp_path, "spin", SPIN), 1 << 20)
    summary = runner.run(100_001)
    assert (Outcome.LIMIT, 100_001) == (summary.outcome, summary.instructions)
    assert (VmState.STOPPED, "destroyed") == (cp.get_vm(runner.vm_id).state,
                                              cp.get_vm(runner.vm_id).reason)


def test_pause_and_resume_while_the_guest_runs(cp: ControlPlane, tmp_path: Path) -> None:
    runner, _ = boot(cp, "spin", build(tmp_path, "spin", SPIN), 1 << 20)
    outcome: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcome.append(runner.run().outcome))
    thread.start()
    runner.pause()
    assert runner.wait_paused(timeout=60)
    assert VmState.PAUSED == cp.get_vm(runner.vm_id).state
    runner.resume()
    assert runner.wait_running(timeout=60)
    runner.pause()
    assert runner.wait_paused(timeout=60)
    runner.stop()
    thread.join(timeout=60)
    assert [Outcome.STOPPED] == outcome
    assert ["vm.created", "vm.started", "vm.paused", "vm.resumed", "vm.paused",
            "vm.stopped"] == topics(cp, runner)


def test_a_file_that_is_not_a_guest_is_refused_before_anything_is_recorded(
        cp: ControlPlane, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.elf"
    bogus.write_text("not an ELF")
    with pytest.raises(GuestImageError, match="cannot load guest"):
        boot(cp, "bogus", str(bogus), 1 << 20)
    assert [] == cp.list_vms()


def test_the_machine_reports_runtime_events_and_flushes_its_tlb_on_its_vm_stopping(
        tmp_path: Path) -> None:
    from vmcore.bus import UnifiedEventBus

    bus = UnifiedEventBus()
    runtime: list[tuple[str, object]] = []
    bus.subscribe("exec.*", lambda event: runtime.append((event.bus_topic, event.vm_id)))
    bus.subscribe("mmu.*", lambda event: runtime.append((event.bus_topic, event.data["reason"])))
    cp = ControlPlane({"PERSISTENCE_MODULE": "eventsourcing.popo"}, publish=bus.publish)
    runner, _ = boot(cp, "spin", build(tmp_path, "spin", SPIN), 1 << 20,
                     publisher=bus.publish)
    for topic, handler in runner.machine.bus_handlers().items():
        bus.subscribe(topic, handler)
    runner.run(10_000)
    assert ("exec.hotspot", runner.vm_id) in runtime
    assert ("exec.block_translated", runner.vm_id) in runtime
    assert ("mmu.tlb_flushed", "vm.stopped") == runtime[-1]
    bus.stop()
