"""The VM domain events that invalidate every cached translation of that VM: read by each
vCPU's MmuService and by the ``mmu`` service (the fleet), which loads without the MMU."""

from __future__ import annotations

from vmcore.domain import VirtualMachine

FLUSHING_TOPICS = tuple(
    event.bus_topic
    for event in (
        VirtualMachine.Stopped,
        VirtualMachine.Crashed,
        VirtualMachine.SnapshotRestored,
        VirtualMachine.MigrationCompleted,
        VirtualMachine.MemoryFreed,
        VirtualMachine.MemoryUnmapped,
        VirtualMachine.Deleted,
    )
)
"""Domain events after which no cached translation of that VM may be used again."""
