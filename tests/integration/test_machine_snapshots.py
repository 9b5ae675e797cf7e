"""Snapshot a running guest into the store, restore it into a new machine, run on: the
result is exactly what a machine that never stopped produces."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vmcore.application import ControlPlane
from vmcore.application.guest_runner import Outcome, boot, resume_from_snapshot
from vmcore.application.machine_snapshots import MachineSnapshots
from vmcore.domain import VmState
from vmcore_domain_services.execution import Machine
from vmcore_event_store.machine_snapshots import SnapshotStoreError

KERNEL = Path(__file__).resolve().parents[2] / "examples" / "guests" / "build" / "kernel.elf"
MEMORY = 4 << 20


def reference_run() -> tuple[bytes, Machine]:
    console = bytearray()
    machine = Machine.from_elf(KERNEL, MEMORY, console=console.extend)
    assert 0 == machine.run().exit_code
    return bytes(console), machine


@pytest.mark.parametrize("translate", [True, False], ids=["translated", "interpreted"])
def test_restore_and_run_on_equals_never_stopping(tmp_path: Path, translate: bool) -> None:
    cp = ControlPlane({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    snapshots = MachineSnapshots(tmp_path / "machine-snapshots")
    before = bytearray()
    holder: dict[str, object] = {}

    def console(data: bytes) -> None:  # pause after each of the first two lines
        before.extend(data)
        if data == b"\n" and before.count(b"\n") <= 2:
            holder["runner"].pause()  # type: ignore[attr-defined]

    runner, _ = boot(cp, "kernel", str(KERNEL), MEMORY, console=console, translate=translate)
    runner.snapshots = snapshots
    holder["runner"] = runner
    outcome: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcome.append(runner.run().outcome))
    thread.start()
    for count, snapshot_id in enumerate(("first", "second"), start=1):
        assert runner.wait_paused(timeout=60, count=count)
        runner.snapshot(snapshot_id)
        assert runner.wait_snapshots_taken(timeout=60)
        if snapshot_id == "first":
            runner.resume()
    runner.stop()
    thread.join(timeout=60)
    assert [Outcome.STOPPED] == outcome

    vm = cp.get_vm(runner.vm_id)
    assert (VmState.STOPPED, ["first", "second"]) == (vm.state, vm.snapshots)
    created = [e for e in cp.history(vm.id) if e.bus_topic == "vm.snapshot_created"]
    assert [("full", None), ("diff", "first")] == [
        (e.kind, e.base_snapshot_id) for e in created]  # type: ignore[attr-defined]

    after = bytearray()
    restored = resume_from_snapshot(cp, "kernel", "second", snapshots, console=after.extend,
                                    translate=not translate)
    summary = restored.run(start=False)
    expected_console, expected_machine = reference_run()
    assert (Outcome.EXITED, 0) == (summary.outcome, summary.exit_code)
    assert expected_console == bytes(before) + bytes(after)
    assert expected_machine.capture_state() == restored.machine.capture_state()
    assert ["vm.snapshot_restored", "vm.stopped"] == [
        e.bus_topic for e in cp.history(vm.id)][-2:]


def test_a_damaged_page_is_reported_not_restored(tmp_path: Path) -> None:
    machine = Machine.from_elf(KERNEL, MEMORY, console=lambda _: None)
    machine.run(5_000)
    snapshots = MachineSnapshots(tmp_path)
    from uuid import uuid4

    vm_id = uuid4()
    snapshots.save(vm_id, "s", machine.capture_state())
    blob = next((tmp_path / "blobs").rglob("*"))
    while blob.is_dir():
        blob = next(blob.iterdir())
    data = blob.read_bytes()
    blob.write_bytes(bytes([data[0] ^ 0xFF]) + data[1:])
    with pytest.raises(SnapshotStoreError, match="damaged"):
        snapshots.load(vm_id, "s")
