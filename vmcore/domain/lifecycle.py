"""The VM lifecycle as data: states, reasons and the transition table.

The aggregate's guards, the docs' state diagram and the property tests all read
:data:`TRANSITIONS`, so there is one table to change; :func:`state_after` derives from it
the state (and reason) a VM is in after each event, for the aggregate's evolution, the
fleet statistics (``LifecycleStatistics``) and the testing state machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import Any

from attrs import frozen


class VmState(Enum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    SHUTTING_DOWN = "shutting_down"
    STOPPED = "stopped"
    CRASHED = "crashed"
    MIGRATING = "migrating"
    DELETED = "deleted"


class PauseReason(Enum):
    USER = "user"
    IO_ERROR = "io_error"
    WATCHDOG = "watchdog"
    SNAPSHOT = "snapshot"
    MIGRATION = "migration"


class StopReason(Enum):
    SHUTDOWN = "shutdown"
    DESTROYED = "destroyed"
    FAILED = "failed"
    MIGRATED = "migrated"


S = VmState
_LIVE = frozenset(state for state in VmState if state is not VmState.DELETED)


@frozen
class Transition:
    """One row of the lifecycle table: ``command`` is allowed in ``sources``.

    ``target`` is ``None`` when the command keeps the current state.
    """

    command: str
    sources: frozenset[VmState]
    target: VmState | None
    event: str


def _row(command: str, sources: set[VmState] | frozenset[VmState], target: VmState | None,
         event: str) -> Transition:
    return Transition(command, frozenset(sources), target, event)


TRANSITIONS: dict[str, Transition] = {
    row.command: row
    for row in (
        _row("start", {S.CREATED, S.STOPPED, S.CRASHED}, S.RUNNING, "Started"),
        _row("fail_start", {S.CREATED, S.STOPPED, S.CRASHED}, S.STOPPED, "StartFailed"),
        _row("pause", {S.RUNNING}, S.PAUSED, "Paused"),
        _row("resume", {S.PAUSED}, S.RUNNING, "Resumed"),
        _row("shutdown", {S.RUNNING}, S.SHUTTING_DOWN, "ShutdownRequested"),
        _row("guest_exited", {S.RUNNING, S.SHUTTING_DOWN}, S.STOPPED, "Stopped"),
        _row("stop", {S.RUNNING, S.PAUSED, S.SHUTTING_DOWN}, S.STOPPED, "Stopped"),
        _row("crash", {S.RUNNING, S.SHUTTING_DOWN}, S.CRASHED, "Crashed"),
        _row("update_config", {S.CREATED, S.STOPPED, S.RUNNING}, None, "ConfigurationUpdated"),
        _row("snapshot", {S.PAUSED}, None, "SnapshotCreated"),
        _row("restore", {S.CREATED, S.STOPPED}, S.PAUSED, "SnapshotRestored"),
        _row("migrate", {S.RUNNING}, S.MIGRATING, "MigrationStarted"),
        _row("complete_migration", {S.MIGRATING}, S.STOPPED, "MigrationCompleted"),
        _row("cancel_migration", {S.MIGRATING}, S.RUNNING, "MigrationCancelled"),
        _row("allocate_memory", _LIVE, None, "MemoryAllocated"),
        _row("free_memory", _LIVE, None, "MemoryFreed"),
        _row("map_memory", _LIVE, None, "MemoryMapped"),
        _row("unmap_memory", _LIVE, None, "MemoryUnmapped"),
        _row("add_device", _LIVE, None, "DeviceAdded"),
        _row("remove_device", _LIVE, None, "DeviceRemoved"),
        _row("delete", {S.CREATED, S.STOPPED, S.CRASHED}, S.DELETED, "Deleted"),
    )
}
"""Every command but ``create`` (which has no source state), keyed by command name.
``restore(resume=True)`` ends in running rather than paused."""


_TARGET_OF_EVENT: dict[str, VmState] = {"Created": VmState.CREATED} | {
    row.event: row.target for row in TRANSITIONS.values() if row.target is not None
}
"""By event class name: the state a VM enters (events that keep the state are absent)."""
_FIXED_REASON = {"StartFailed": StopReason.FAILED.value, "MigrationCompleted":
                 StopReason.MIGRATED.value, "SnapshotRestored": PauseReason.SNAPSHOT.value}
_REASON_FROM_EVENT = frozenset({"Paused", "Stopped"})


def state_after(event: Any) -> tuple[VmState, str | None] | None:
    """The state and reason (a pause or stop reason's value, or None) of a VM after
    ``event``, or None when the event keeps the VM's state (memory, devices, config ...).

    Read from :data:`TRANSITIONS` by the event's class name: ``SnapshotRestored`` with
    ``resumed`` set ends in running, as ``restore(resume=True)`` does.
    """
    name = type(event).__name__
    target = _TARGET_OF_EVENT.get(name)
    if target is None:
        return None
    if name == "SnapshotRestored" and event.resumed:
        return VmState.RUNNING, None
    if name in _REASON_FROM_EVENT:
        return target, event.reason
    return target, _FIXED_REASON.get(name)


def allowed_commands(state: VmState) -> list[str]:
    """The commands the table allows in ``state``, in table order."""
    return [name for name, row in TRANSITIONS.items() if state in row.sources]


def state_edges() -> Iterator[tuple[VmState, VmState, str]]:
    """Every (source, target, command) edge that changes state, for diagrams and tests."""
    for row in TRANSITIONS.values():
        targets = [row.target] if row.target is not None else []
        if row.command == "restore":
            targets.append(VmState.RUNNING)
        for source in sorted(row.sources, key=lambda state: list(VmState).index(state)):
            for target in targets:
                yield source, target, row.command


def mermaid_state_diagram() -> str:
    """The lifecycle as a mermaid ``stateDiagram-v2``, generated from the table."""
    lines = ["stateDiagram-v2", "    [*] --> created: create"]
    for source, target, command in state_edges():
        lines.append(f"    {source.value} --> {target.value}: {command}")
    lines.append("    deleted --> [*]")
    return "\n".join(lines)
