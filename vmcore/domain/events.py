"""The VM's domain events: past tense, primitives only, versioned where they grew.

Each class has a dotted ``bus_topic`` and, where a later version added fields, a
``class_version`` with ``upcast_vN_vN+1`` static methods (eventsourcing's upcasting), so
events stored by an older vmcore load as the current class. The classes are also reachable
nested in the aggregate (``VirtualMachine.Started``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.domain import AggregateCreated, AggregateEvent


class VmEvent(AggregateEvent):
    """Base of every VM event. ``meta`` holds correlation/causation ids, TRNs and tags."""

    meta: dict[str, Any]
    bus_topic: ClassVar[str] = "vm.event"

    def apply(self, aggregate: Any) -> None:
        aggregate._when(self)

    @property
    def correlation_id(self) -> str:
        return str(self.meta["correlation_id"])

    @property
    def causation_id(self) -> str | None:
        value = self.meta.get("causation_id")
        return None if value is None else str(value)

    @property
    def actor(self) -> str:
        return str(self.meta["actor"])

    @property
    def source(self) -> str | None:
        value = self.meta.get("source")
        return None if value is None else str(value)

    @property
    def target(self) -> str:
        return str(self.meta["target"])

    @property
    def event_tags(self) -> list[str]:
        """The tags of this event's metadata (``Created.tags`` are the VM's own tags)."""
        return list(self.meta.get("tags", ()))

    @property
    def event_id(self) -> str:
        """A stable id for causation chains: ``<vm id>:<version>``."""
        return f"{self.originator_id}:{self.originator_version}"


class Created(VmEvent, AggregateCreated):
    """v2 added ``created_by`` and the VM's ``tags`` (v1 events load with 'system', [])."""

    bus_topic: ClassVar[str] = "vm.created"
    class_version: ClassVar[int] = 2
    name: str
    config: dict[str, Any]
    created_by: str
    tags: list[str]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["created_by"] = "system"
        state["tags"] = []


class Started(VmEvent):
    """v2 added ``startup_time_ms`` (``None`` when an older vmcore did not measure it)."""

    bus_topic: ClassVar[str] = "vm.started"
    class_version: ClassVar[int] = 2
    startup_time_ms: int | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["startup_time_ms"] = None


class StartFailed(VmEvent):
    bus_topic: ClassVar[str] = "vm.start_failed"
    error: str


class Paused(VmEvent):
    bus_topic: ClassVar[str] = "vm.paused"
    reason: str


class Resumed(VmEvent):
    bus_topic: ClassVar[str] = "vm.resumed"


class ShutdownRequested(VmEvent):
    bus_topic: ClassVar[str] = "vm.shutdown_requested"


class Stopped(VmEvent):
    """v2 added ``exit_code`` (``None`` for v1 events and for forced stops)."""

    bus_topic: ClassVar[str] = "vm.stopped"
    class_version: ClassVar[int] = 2
    reason: str
    force: bool
    exit_code: int | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["exit_code"] = None


class Crashed(VmEvent):
    bus_topic: ClassVar[str] = "vm.crashed"
    reason: str


class ConfigurationUpdated(VmEvent):
    bus_topic: ClassVar[str] = "vm.configuration_updated"
    config: dict[str, Any]
    hotplug: bool


class SnapshotCreated(VmEvent):
    bus_topic: ClassVar[str] = "vm.snapshot_created"
    snapshot_id: str
    kind: str
    base_snapshot_id: str | None


class SnapshotRestored(VmEvent):
    bus_topic: ClassVar[str] = "vm.snapshot_restored"
    snapshot_id: str
    resumed: bool


class MigrationStarted(VmEvent):
    bus_topic: ClassVar[str] = "vm.migration_started"
    destination: str


class MigrationCompleted(VmEvent):
    bus_topic: ClassVar[str] = "vm.migration_completed"


class MigrationCancelled(VmEvent):
    bus_topic: ClassVar[str] = "vm.migration_cancelled"
    reason: str


class MemoryAllocated(VmEvent):
    """v2 added ``memory_type`` (v1 regions were all 'ram')."""

    bus_topic: ClassVar[str] = "vm.memory_allocated"
    class_version: ClassVar[int] = 2
    region_id: str
    base: int
    size: int
    memory_type: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["memory_type"] = "ram"


class MemoryFreed(VmEvent):
    bus_topic: ClassVar[str] = "vm.memory_freed"
    region_id: str


class MemoryMapped(VmEvent):
    bus_topic: ClassVar[str] = "vm.memory_mapped"
    region_id: str
    host_address: int


class MemoryUnmapped(VmEvent):
    bus_topic: ClassVar[str] = "vm.memory_unmapped"
    region_id: str


class DeviceAdded(VmEvent):
    bus_topic: ClassVar[str] = "vm.device_added"
    device_id: str
    kind: str
    properties: dict[str, Any]


class DeviceRemoved(VmEvent):
    bus_topic: ClassVar[str] = "vm.device_removed"
    device_id: str


class Deleted(VmEvent):
    bus_topic: ClassVar[str] = "vm.deleted"


EVENT_CLASSES: tuple[type[VmEvent], ...] = (
    Created, Started, StartFailed, Paused, Resumed, ShutdownRequested, Stopped, Crashed,
    ConfigurationUpdated, SnapshotCreated, SnapshotRestored, MigrationStarted,
    MigrationCompleted, MigrationCancelled, MemoryAllocated, MemoryFreed, MemoryMapped,
    MemoryUnmapped, DeviceAdded, DeviceRemoved, Deleted,
)
"""Every VM event class, in lifecycle-table order."""
