"""How each VM event changes the aggregate's state, and replaying a stream of them.

These functions never validate: they apply what was decided (and recorded) long ago.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from vmcore.domain import events as ev
from vmcore.domain.lifecycle import PauseReason, StopReason, VmState

if TYPE_CHECKING:
    from vmcore.domain.aggregate import VirtualMachine


def project_virtual_machine(vm: VirtualMachine | None,
                            events: Iterable[ev.VmEvent]) -> VirtualMachine | None:
    """Apply ``events`` in order to ``vm`` (``None`` before ``Created``).

    eventsourcing's default projector checks every event against a runtime protocol; our
    events are known to mutate, so this one just mutates, about 3x faster on replay.
    """
    for event in events:
        vm = event.mutate(vm)
    return vm


def _created(vm: Any, event: Any) -> None:
    vm._name = event.name
    vm._config = dict(event.config)
    vm._state = VmState.CREATED.value
    vm._reason = None
    vm._created_by = event.created_by
    vm._tags = list(event.tags)
    vm._regions = {}
    vm._devices = {}
    vm._snapshots = []
    vm._destination = None
    vm._exit_code = None
    vm._last_error = None
    vm._startup_time_ms = None


def _enter(state: VmState, reason: str | None = None) -> Callable[[Any, Any], None]:
    def apply(vm: Any, _event: Any) -> None:
        vm._state = state.value
        vm._reason = reason
    return apply


def _started(vm: Any, event: Any) -> None:
    _enter(VmState.RUNNING)(vm, event)
    vm._startup_time_ms = event.startup_time_ms
    vm._exit_code = None
    vm._last_error = None


def _start_failed(vm: Any, event: Any) -> None:
    _enter(VmState.STOPPED, StopReason.FAILED.value)(vm, event)
    vm._last_error = event.error


def _stopped(vm: Any, event: Any) -> None:
    _enter(VmState.STOPPED, event.reason)(vm, event)
    vm._exit_code = event.exit_code


def _crashed(vm: Any, event: Any) -> None:
    _enter(VmState.CRASHED)(vm, event)
    vm._last_error = event.reason


def _restored(vm: Any, event: Any) -> None:
    if event.resumed:
        _enter(VmState.RUNNING)(vm, event)
    else:
        _enter(VmState.PAUSED, PauseReason.SNAPSHOT.value)(vm, event)


def _migration_started(vm: Any, event: Any) -> None:
    _enter(VmState.MIGRATING)(vm, event)
    vm._destination = event.destination


def _migration_ended(state: VmState, reason: str | None) -> Callable[[Any, Any], None]:
    def apply(vm: Any, event: Any) -> None:
        _enter(state, reason)(vm, event)
        vm._destination = None
    return apply


def _set_region_mapping(vm: Any, event: Any) -> None:
    vm._regions[event.region_id] = dict(vm._regions[event.region_id],
                                        host_address=getattr(event, "host_address", None))


APPLIERS: dict[type[ev.VmEvent], Callable[[Any, Any], None]] = {
    ev.Created: _created,
    ev.Started: _started,
    ev.StartFailed: _start_failed,
    ev.Paused: lambda vm, e: _enter(VmState.PAUSED, e.reason)(vm, e),
    ev.Resumed: _enter(VmState.RUNNING),
    ev.ShutdownRequested: _enter(VmState.SHUTTING_DOWN),
    ev.Stopped: _stopped,
    ev.Crashed: _crashed,
    ev.ConfigurationUpdated: lambda vm, e: setattr(vm, "_config", dict(e.config)),
    ev.SnapshotCreated: lambda vm, e: vm._snapshots.append(
        {"snapshot_id": e.snapshot_id, "kind": e.kind, "base": e.base_snapshot_id}),
    ev.SnapshotRestored: _restored,
    ev.MigrationStarted: _migration_started,
    ev.MigrationCompleted: _migration_ended(VmState.STOPPED, StopReason.MIGRATED.value),
    ev.MigrationCancelled: _migration_ended(VmState.RUNNING, None),
    ev.MemoryAllocated: lambda vm, e: vm._regions.__setitem__(e.region_id, {
        "base": e.base, "size": e.size, "memory_type": e.memory_type, "host_address": None}),
    ev.MemoryFreed: lambda vm, e: vm._regions.pop(e.region_id),
    ev.MemoryMapped: _set_region_mapping,
    ev.MemoryUnmapped: _set_region_mapping,
    ev.DeviceAdded: lambda vm, e: vm._devices.__setitem__(
        e.device_id, {"kind": e.kind, "properties": dict(e.properties)}),
    ev.DeviceRemoved: lambda vm, e: vm._devices.pop(e.device_id),
    ev.Deleted: _enter(VmState.DELETED),
}
