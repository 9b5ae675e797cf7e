"""Worker processes for the fault soak (run as scripts or spawned, not collected).

``toggle_worker``: one of many writer processes toggling one VM on PostgreSQL through a
proxy that drops replies at random; returns how many toggles it saw succeed.

``python soak_workers.py append STORE N``: a file-store writer appending N events to VM
"soak" (created if missing), printing each acknowledged version; killed at random by the
test and restarted.
"""

from __future__ import annotations

import sys
from uuid import UUID

from vmcore.application import ConcurrencyConflict, ControlPlane, retry_on_conflict
from vmcore.composition import StoreSpec
from vmcore.domain import VmConfig, VmState


def toggle_worker(env: dict[str, str], vm_id: str, operations: int,
                  barrier: object) -> tuple[int, int, list[str]]:
    """Returns (successes, conflicts exhausted, other errors)."""
    done = exhausted = 0
    errors: list[str] = []
    with ControlPlane(env, snapshot_interval=0) as cp:
        cp.get_vm(UUID(vm_id))
        barrier.wait(300)  # type: ignore[attr-defined]

        def toggle() -> None:
            vm = cp.get_vm(UUID(vm_id))
            if vm.state is VmState.RUNNING:
                vm.pause()
            else:
                vm.resume()
            cp.save(vm)

        for _ in range(operations):
            try:
                retry_on_conflict(toggle, attempts=30)
                done += 1
            except ConcurrencyConflict:
                exhausted += 1
            except Exception as error:  # reported: an outcome the caller could not know
                errors.append(f"{type(error).__name__}: {error}")
    return done, exhausted, errors


def append(store: str, count: int) -> int:
    env = StoreSpec("file", store).env()
    with ControlPlane(env, snapshot_interval=0) as cp:
        try:
            vm_id = cp.resolve("soak")
        except Exception:
            vm_id = cp.create_vm("soak", VmConfig())
            print(1, flush=True)
        for _ in range(count):
            vm = cp.execute(vm_id, lambda vm: vm.add_device(f"d{vm.version}", "virtio-net"))
            print(vm.version, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(append(sys.argv[2], int(sys.argv[3])))
