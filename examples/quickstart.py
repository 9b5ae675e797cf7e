"""Quick start: a VM's life on the embedded store, a past version, and a replay.

Run it with `.venv/bin/python examples/quickstart.py [STORE]` (default: a temporary file
store). It prints the VM's history and exits non-zero if the replay differs.
"""

from __future__ import annotations

import sys
import tempfile

from vmcore.composition import Container
from vmcore.domain import CommandContext, PauseReason, Trn, VmConfig


def main(store: str) -> int:
    container = Container.from_settings({"store": store, "snapshot_interval": 4})
    control_plane = container.control_plane()
    ctx = CommandContext(actor=Trn.parse("trn:user:alice"))

    vm_id = control_plane.create_vm("quickstart", VmConfig(vcpus=2, memory="1G"), context=ctx)
    control_plane.start_vm(vm_id, context=ctx)
    control_plane.pause_vm(vm_id, PauseReason.SNAPSHOT, context=ctx)
    control_plane.snapshot_vm(vm_id, "first", context=ctx)
    control_plane.resume_vm(vm_id, context=ctx)
    control_plane.stop_vm(vm_id, context=ctx)

    for event in control_plane.history(vm_id):
        print(f"v{event.originator_version} {event.bus_topic:<22} by {event.actor}")
    print("at version 3 it was", control_plane.get_vm(vm_id, version=3).state.value)
    same = control_plane.replay_vm(vm_id) == control_plane.get_vm(vm_id)
    print("replay equals live state:", same)
    print("lifecycle statistics:", container.services()["lifecycle"].counts())
    control_plane.close()
    container.bus().stop()
    return 0 if same else 1


if __name__ == "__main__":
    default = f"file:{tempfile.mkdtemp(prefix='vmcore-quickstart-')}"
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else default))
