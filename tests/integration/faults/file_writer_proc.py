"""A writer process holding a file store's writer lock (run as a script, not collected).

Usage: python file_writer_proc.py STORE_DIR. Creates VM "web-1", starts it and toggles it
(5 VM events), prints the highest notification id; on each line of stdin toggles it 4 more times and
prints the new highest id; exits (releasing the lock) when stdin closes.
"""

from __future__ import annotations

import sys

from vmcore.application import ControlPlane
from vmcore.composition import StoreSpec
from vmcore.domain import VmConfig, VmState


def toggle(cp: ControlPlane, vm_id: object, times: int) -> None:
    for _ in range(times):
        if cp.get_vm(vm_id).state is VmState.RUNNING:  # type: ignore[arg-type]
            cp.pause_vm(vm_id)  # type: ignore[arg-type]
        else:
            cp.resume_vm(vm_id)  # type: ignore[arg-type]


def main(store: str) -> int:
    with ControlPlane(StoreSpec("file", store).env(), snapshot_interval=0) as cp:
        vm_id = cp.create_vm("web-1", VmConfig())
        cp.start_vm(vm_id)
        toggle(cp, vm_id, 3)
        print(cp.recorder.max_notification_id(), flush=True)
        for _ in sys.stdin:
            toggle(cp, vm_id, 4)
            print(cp.recorder.max_notification_id(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
