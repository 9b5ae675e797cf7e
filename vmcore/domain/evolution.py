"""How each VM event changes the aggregate's state, and replaying a stream of them.

These functions never validate: they apply what was decided (and recorded) long ago.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from vmcore.domain import events as ev
from vmcore.domain.lifecycle import state_after

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
    vm._created_by = event.created_by
    vm._tags = list(event.tags)
    vm._regions = {}
    vm._devices = {}
    vm._snapshots = []
    vm._destination = None
    vm._exit_code = None
    vm._last_error = None
    vm._startup_time_ms = None


def _started(vm: Any, event: Any) -> None:
    vm._startup_time_ms = event.startup_time_ms
    vm._exit_code = None
    vm._last_error = None


def _set_region_mapping(vm: Any, event: Any) -> None:
    vm._regions[event.region_id] = dict(vm._regions[event.region_id],
                                        host_address=getattr(event, "host_address", None))


def _nothing(vm: Any, event: Any) -> None:
    """The event changes only the state (see :func:`state_after`)."""


_FIELDS: dict[type[ev.VmEvent], Callable[[Any, Any], None]] = {
    ev.Created: _created,
    ev.Started: _started,
    ev.StartFailed: lambda vm, e: setattr(vm, "_last_error", e.error),
    ev.Paused: _nothing,
    ev.Resumed: _nothing,
    ev.ShutdownRequested: _nothing,
    ev.Stopped: lambda vm, e: setattr(vm, "_exit_code", e.exit_code),
    ev.Crashed: lambda vm, e: setattr(vm, "_last_error", e.reason),
    ev.ConfigurationUpdated: lambda vm, e: setattr(vm, "_config", dict(e.config)),
    ev.SnapshotCreated: lambda vm, e: vm._snapshots.append(
        {"snapshot_id": e.snapshot_id, "kind": e.kind, "base": e.base_snapshot_id}),
    ev.SnapshotRestored: _nothing,
    ev.MigrationStarted: lambda vm, e: setattr(vm, "_destination", e.destination),
    ev.MigrationCompleted: lambda vm, e: setattr(vm, "_destination", None),
    ev.MigrationCancelled: lambda vm, e: setattr(vm, "_destination", None),
    ev.MemoryAllocated: lambda vm, e: vm._regions.__setitem__(e.region_id, {
        "base": e.base, "size": e.size, "memory_type": e.memory_type, "host_address": None}),
    ev.MemoryFreed: lambda vm, e: vm._regions.pop(e.region_id),
    ev.MemoryMapped: _set_region_mapping,
    ev.MemoryUnmapped: _set_region_mapping,
    ev.DeviceAdded: lambda vm, e: vm._devices.__setitem__(
        e.device_id, {"kind": e.kind, "properties": dict(e.properties)}),
    ev.DeviceRemoved: lambda vm, e: vm._devices.pop(e.device_id),
    ev.Deleted: _nothing,
}
"""What each event changes besides the state: the fields it records."""


def _applier(fields: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    def apply(vm: Any, event: Any) -> None:
        fields(vm, event)
        after = state_after(event)
        if after is not None:
            vm._state = after[0].value
            vm._reason = after[1]
    return apply


APPLIERS: dict[type[ev.VmEvent], Callable[[Any, Any], None]] = {
    event_class: _applier(fields) for event_class, fields in _FIELDS.items()
}
"""How each event changes the aggregate: its fields, then the state :func:`state_after`
gives (the one source of the state after each event)."""
