"""The VirtualMachine aggregate root: its commands and its read model.

Commands are the public methods: each checks the lifecycle table and the VM's invariants,
then triggers exactly one event. ``_when`` applies events (see :mod:`vmcore.domain.evolution`)
and never validates, because it also replays history. State is kept as primitives so
snapshots transcode without help.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate

from vmcore.domain import events as ev
from vmcore.domain.config import VmConfig, format_memory_size
from vmcore.domain.errors import IllegalTransition, InvariantViolation
from vmcore.domain.evolution import APPLIERS
from vmcore.domain.lifecycle import TRANSITIONS, PauseReason, StopReason, VmState
from vmcore.domain.metadata import CommandContext
from vmcore.domain.naming import check_vm_name
from vmcore.domain.resources import Device, MemoryRegion
from vmcore.domain.trn import Trn


class VirtualMachine(Aggregate):
    """A virtual machine: its configuration, lifecycle state, memory, devices, snapshots."""

    Event = ev.VmEvent  # type: ignore[assignment]
    Created = ev.Created  # type: ignore[assignment]
    Started = ev.Started
    StartFailed = ev.StartFailed
    Paused = ev.Paused
    Resumed = ev.Resumed
    ShutdownRequested = ev.ShutdownRequested
    Stopped = ev.Stopped
    Crashed = ev.Crashed
    ConfigurationUpdated = ev.ConfigurationUpdated
    SnapshotCreated = ev.SnapshotCreated
    SnapshotRestored = ev.SnapshotRestored
    MigrationStarted = ev.MigrationStarted
    MigrationCompleted = ev.MigrationCompleted
    MigrationCancelled = ev.MigrationCancelled
    MemoryAllocated = ev.MemoryAllocated
    MemoryFreed = ev.MemoryFreed
    MemoryMapped = ev.MemoryMapped
    MemoryUnmapped = ev.MemoryUnmapped
    DeviceAdded = ev.DeviceAdded
    DeviceRemoved = ev.DeviceRemoved
    Deleted = ev.Deleted

    if TYPE_CHECKING:  # state set by ``_when``; not annotated at runtime, where eventsourcing
        # would read class annotations as constructor fields.
        _name: str
        _config: dict[str, Any]
        _state: str
        _reason: str | None
        _created_by: str
        _tags: list[str]
        _regions: dict[str, dict[str, Any]]
        _devices: dict[str, dict[str, Any]]
        _snapshots: list[dict[str, Any]]
        _destination: str | None
        _exit_code: int | None
        _last_error: str | None
        _startup_time_ms: int | None

    # -- creation -----------------------------------------------------------------------

    @classmethod
    def create(cls, name: str, config: VmConfig, *, created_by: str = "system",
               tags: list[str] | tuple[str, ...] = (),
               context: CommandContext | None = None) -> VirtualMachine:
        """A new VM in state ``created``. ``name`` is checked by :func:`check_vm_name`."""
        check_vm_name(name)
        ctx = context or CommandContext()
        return cls._create(
            ev.Created,
            meta=ctx.to_metadata(Trn.of("vm", name)),
            name=name,
            config=config.to_primitive(),
            created_by=created_by,
            tags=list(tags),
        )

    # -- read model ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def trn(self) -> Trn:
        return Trn.of("vm", self._name)

    @property
    def config(self) -> VmConfig:
        return VmConfig.from_primitive(self._config)

    @property
    def state(self) -> VmState:
        return VmState(self._state)

    @property
    def reason(self) -> str | None:
        """Why the VM is paused or stopped (a PauseReason/StopReason value), else None."""
        return self._reason

    @property
    def created_by(self) -> str:
        return self._created_by

    @property
    def tags(self) -> list[str]:
        return list(self._tags)

    @property
    def exit_code(self) -> int | None:
        return self._exit_code

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def migration_destination(self) -> str | None:
        return self._destination

    @property
    def memory_regions(self) -> list[MemoryRegion]:
        return sorted(
            (MemoryRegion.from_primitive(rid, data) for rid, data in self._regions.items()),
            key=lambda region: region.base,
        )

    @property
    def devices(self) -> list[Device]:
        return [Device(did, data["kind"], dict(data["properties"]))
                for did, data in sorted(self._devices.items())]

    @property
    def snapshots(self) -> list[str]:
        return [entry["snapshot_id"] for entry in self._snapshots]

    # -- lifecycle commands -------------------------------------------------------------

    def start(self, *, startup_time_ms: int | None = None,
              context: CommandContext | None = None) -> None:
        self._trigger("start", ev.Started, context, startup_time_ms=startup_time_ms)

    def fail_start(self, error: str, *, context: CommandContext | None = None) -> None:
        self._trigger("fail_start", ev.StartFailed, context, error=error)

    def pause(self, reason: PauseReason = PauseReason.USER, *,
              context: CommandContext | None = None) -> None:
        self._trigger("pause", ev.Paused, context, reason=PauseReason(reason).value)

    def resume(self, *, context: CommandContext | None = None) -> None:
        self._trigger("resume", ev.Resumed, context)

    def shutdown(self, *, context: CommandContext | None = None) -> None:
        self._trigger("shutdown", ev.ShutdownRequested, context)

    def guest_exited(self, exit_code: int, *, context: CommandContext | None = None) -> None:
        """The guest finished by itself (after a shutdown request or not)."""
        self._trigger("guest_exited", ev.Stopped, context, reason=StopReason.SHUTDOWN.value,
                      force=False, exit_code=exit_code)

    def stop(self, *, force: bool = False, context: CommandContext | None = None) -> None:
        self._trigger("stop", ev.Stopped, context, reason=StopReason.DESTROYED.value,
                      force=force, exit_code=None)

    def crash(self, reason: str, *, context: CommandContext | None = None) -> None:
        self._trigger("crash", ev.Crashed, context, reason=reason)

    def delete(self, *, context: CommandContext | None = None) -> None:
        self._trigger("delete", ev.Deleted, context)

    # -- configuration ------------------------------------------------------------------

    def update_config(self, config: VmConfig, *, context: CommandContext | None = None) -> None:
        """Any change while created or stopped; while running only hot-plug: more vCPUs or
        memory up to the configured maxima, nothing else changed."""
        self._require("update_config")
        current = self.config
        hotplug = self.state is VmState.RUNNING
        if hotplug:
            self._check_hotplug(current, config)
        highest = max((region.end for region in self.memory_regions), default=0)
        if config.memory < highest:
            self._refuse("update_config", f"memory {format_memory_size(config.memory)} would"
                         f" cut allocated regions ending at {highest:#x}")
        self._emit(ev.ConfigurationUpdated, context, config=config.to_primitive(),
                   hotplug=hotplug)

    def _check_hotplug(self, current: VmConfig, new: VmConfig) -> None:
        fixed = current.to_primitive() | {"vcpus": new.vcpus, "memory": new.memory}
        if new.to_primitive() != fixed:
            self._refuse("update_config", "only vcpus and memory can change while running")
        if new.vcpus < current.vcpus or new.memory < current.memory:
            self._refuse("update_config", "hot-unplug is not supported while running")
        if new.vcpus > current.vcpu_limit:
            self._refuse("update_config",
                         f"{new.vcpus} vCPUs exceeds max_vcpus {current.vcpu_limit}")
        if new.memory > current.memory_limit:
            self._refuse("update_config", f"memory {format_memory_size(new.memory)} exceeds"
                         f" max_memory {format_memory_size(current.memory_limit)}")

    # -- snapshots and migration --------------------------------------------------------

    def snapshot(self, snapshot_id: str, *, kind: str = "full",
                 base_snapshot_id: str | None = None,
                 context: CommandContext | None = None) -> None:
        self._require("snapshot")
        if kind not in ("full", "diff"):
            self._refuse("snapshot", f"snapshot kind must be 'full' or 'diff', got {kind!r}")
        if snapshot_id in self.snapshots:
            self._refuse("snapshot", f"snapshot {snapshot_id!r} already exists")
        if kind == "diff" and base_snapshot_id not in self.snapshots:
            self._refuse("snapshot", f"diff snapshot needs an existing base, got"
                         f" {base_snapshot_id!r}")
        base = base_snapshot_id if kind == "diff" else None
        self._emit(ev.SnapshotCreated, context, snapshot_id=snapshot_id, kind=kind,
                   base_snapshot_id=base)

    def restore(self, snapshot_id: str, *, resume: bool = False,
                context: CommandContext | None = None) -> None:
        self._require("restore")
        if snapshot_id not in self.snapshots:
            self._refuse("restore", f"no snapshot {snapshot_id!r}")
        self._emit(ev.SnapshotRestored, context, snapshot_id=snapshot_id, resumed=resume)

    def migrate(self, destination: str, *, context: CommandContext | None = None) -> None:
        if not destination:
            self._refuse("migrate", "a migration needs a destination")
        self._trigger("migrate", ev.MigrationStarted, context, destination=destination)

    def complete_migration(self, *, context: CommandContext | None = None) -> None:
        self._trigger("complete_migration", ev.MigrationCompleted, context)

    def cancel_migration(self, reason: str = "cancelled", *,
                         context: CommandContext | None = None) -> None:
        self._trigger("cancel_migration", ev.MigrationCancelled, context, reason=reason)

    # -- memory and devices -------------------------------------------------------------

    def allocate_memory(self, region_id: str, base: int, size: int, memory_type: str = "ram",
                        *, context: CommandContext | None = None) -> None:
        self._require("allocate_memory")
        region = MemoryRegion(region_id, base, size, memory_type)
        if region_id in self._regions:
            self._refuse("allocate_memory", f"region {region_id!r} already exists")
        if region.end > self.config.memory:
            self._refuse("allocate_memory", f"region {region_id!r} ends at {region.end:#x},"
                         f" beyond the configured {format_memory_size(self.config.memory)}")
        for other in self.memory_regions:
            if region.overlaps(other):
                self._refuse("allocate_memory", f"region {region_id!r} overlaps"
                             f" {other.region_id!r} [{other.base:#x}, {other.end:#x})")
        self._emit(ev.MemoryAllocated, context, region_id=region_id, base=base, size=size,
                   memory_type=memory_type)

    def free_memory(self, region_id: str, *, context: CommandContext | None = None) -> None:
        region = self._region("free_memory", region_id)
        if region.mapped:
            self._refuse("free_memory", f"region {region_id!r} is mapped: unmap it first")
        self._emit(ev.MemoryFreed, context, region_id=region_id)

    def map_memory(self, region_id: str, host_address: int, *,
                   context: CommandContext | None = None) -> None:
        if self._region("map_memory", region_id).mapped:
            self._refuse("map_memory", f"region {region_id!r} is already mapped")
        self._emit(ev.MemoryMapped, context, region_id=region_id, host_address=host_address)

    def unmap_memory(self, region_id: str, *, context: CommandContext | None = None) -> None:
        if not self._region("unmap_memory", region_id).mapped:
            self._refuse("unmap_memory", f"region {region_id!r} is not mapped")
        self._emit(ev.MemoryUnmapped, context, region_id=region_id)

    def add_device(self, device_id: str, kind: str, properties: dict[str, Any] | None = None,
                   *, context: CommandContext | None = None) -> None:
        self._require("add_device")
        if device_id in self._devices:
            self._refuse("add_device", f"device {device_id!r} already exists")
        self._emit(ev.DeviceAdded, context, device_id=device_id, kind=kind,
                   properties=dict(properties or {}))

    def remove_device(self, device_id: str, *, context: CommandContext | None = None) -> None:
        self._require("remove_device")
        if device_id not in self._devices:
            self._refuse("remove_device", f"no device {device_id!r}")
        self._emit(ev.DeviceRemoved, context, device_id=device_id)

    # -- guards -------------------------------------------------------------------------

    def can(self, command: str) -> bool:
        """Whether the lifecycle table allows ``command`` in the current state."""
        return self.state in TRANSITIONS[command].sources

    def _require(self, command: str) -> None:
        if not self.can(command):
            raise IllegalTransition(self.id, self.name, command, self.state.value)

    def _refuse(self, command: str, problem: str) -> None:
        raise InvariantViolation(self.id, self.name, command, problem)

    def _region(self, command: str, region_id: str) -> MemoryRegion:
        self._require(command)
        if region_id not in self._regions:
            self._refuse(command, f"no memory region {region_id!r}")
        return MemoryRegion.from_primitive(region_id, self._regions[region_id])

    def _trigger(self, command: str, event_class: type[ev.VmEvent],
                 context: CommandContext | None, **payload: Any) -> None:
        self._require(command)
        self._emit(event_class, context, **payload)

    def _emit(self, event_class: type[ev.VmEvent], context: CommandContext | None,
              **payload: Any) -> None:
        meta = (context or CommandContext()).to_metadata(self.trn)
        self.trigger_event(event_class, meta=meta, **payload)

    # -- applying events (no validation: this replays history) --------------------------

    def _when(self, event: ev.VmEvent) -> None:
        APPLIERS[type(event)](self, event)
