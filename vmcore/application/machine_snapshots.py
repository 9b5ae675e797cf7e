"""Machine snapshots of running guests, kept in a content-addressed store.

``SnapshotCreated`` in the VM's stream names a snapshot; its content (registers, CSRs,
devices, memory pages by SHA-256) lives in a :class:`MachineSnapshotStore` under
``<vm id>.<snapshot id>``. A diff snapshot stores only the pages written since its base and
names the base, so loading follows the chain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from vmcore_domain_services.execution import MachineState
from vmcore_event_store.machine_snapshots import MachineSnapshotStore


class MachineSnapshots:
    """Saves and loads :class:`MachineState` objects of VMs."""

    def __init__(self, directory: str | Path) -> None:
        self.store = MachineSnapshotStore(directory)

    def save(self, vm_id: UUID, snapshot_id: str, state: MachineState,
             base_snapshot_id: str | None = None) -> int:
        """Returns the bytes of page content written."""
        primitives = state.to_primitives()
        blobs: dict[str, bytes] = primitives.pop("blobs")
        manifest: dict[str, Any] = primitives | {
            "blob_digests": sorted(blobs),
            "base": None if base_snapshot_id is None else _name(vm_id, base_snapshot_id),
        }
        return self.store.put(_name(vm_id, snapshot_id), manifest, blobs)

    def load(self, vm_id: UUID, snapshot_id: str) -> MachineState:
        return self._load(_name(vm_id, snapshot_id))

    def _load(self, name: str) -> MachineState:
        manifest = self.store.manifest(name)
        base = self._load(manifest["base"]) if manifest.get("base") else None
        data = manifest | {"blobs": {digest: self.store.blob(digest)
                                     for digest in manifest["blob_digests"]}}
        return MachineState.from_primitives(data, base)


def _name(vm_id: UUID, snapshot_id: str) -> str:
    return f"{vm_id}.{snapshot_id}"
