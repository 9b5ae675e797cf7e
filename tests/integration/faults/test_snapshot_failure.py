"""A snapshot that cannot be written never fails or hides a committed command.

The snapshots log of a real file store sits on a full filesystem (a 64 KiB tmpfs mounted
by the test and filled, or a ``/dev/full`` segment where the machine does not allow
mounting). Every command at the snapshot interval still returns, its events are stored and
published, later commands are unaffected, and the failure is logged, counted and published.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.integration.faults.full_disk import full_log_directory
from vmcore.application import ControlPlane
from vmcore.composition import StoreSpec
from vmcore.domain import VmConfig, VmState


@pytest.mark.parametrize("mount", [True, False], ids=["tmpfs-if-allowed", "dev-full"])
def test_a_full_snapshots_volume_fails_no_command(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, mount: bool) -> None:
    env = StoreSpec("file", str(tmp_path / "store")).env()
    published: list[str] = []
    with (full_log_directory(tmp_path / "store" / "snapshots", mount=mount),
          ControlPlane(env, snapshot_interval=2,
                       publish=lambda e: published.append(e.bus_topic)) as cp):
        vm_id = cp.create_vm("web-1", VmConfig())
        with caplog.at_level(logging.WARNING, "vmcore.application.control_plane"):
            started = cp.start_vm(vm_id)  # version 2: a snapshot is due, and fails
        cp.pause_vm(vm_id)
        cp.resume_vm(vm_id)  # version 4: due again, fails again
        cp.stop_vm(vm_id, force=True)
        assert (2, 5) == (started.version, cp.get_vm(vm_id).version)
        assert VmState.STOPPED == cp.get_vm(vm_id).state
        assert cp.get_vm(vm_id) == cp.replay_vm(vm_id)
        assert ["vm.created", "vm_name.claimed", "vm.started", "store.snapshot_failed",
                "vm.paused", "vm.resumed", "store.snapshot_failed", "vm.stopped"] == published
        assert 2 == cp.snapshot_failures
        assert "No space left on device" in caplog.text
    with ControlPlane(env, snapshot_interval=2) as reopened:
        assert 5 == reopened.get_vm(vm_id).version
        reopened.start_vm(vm_id)
        assert [6] == [s.originator_version for s in reopened.snapshots.get(vm_id)]  # type: ignore[union-attr]
