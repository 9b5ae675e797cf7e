"""The fleet view: one row per VM (what ``vm list`` shows), kept by a projection.

The projection follows the application's notification log with a tracked position. Its
state is stored in the same store as the events (any store: file, SQLite, PostgreSQL,
memory), as a record of a ``views`` aggregate recorder whose *version is the position*: the
id of the last notification it has seen. Reading the view loads the latest record, reads the
VM notifications after its position (the store's topic filter, so other events are not
decoded), rebuilds the rows of the VMs they touch from those VMs' current state (snapshot
plus a few events), and, when it caught up a long way, saves a new record. So listing costs
one record plus the recent tail, not one aggregate per VM.

Rows are always rebuilt from the VM's current state, never patched with deltas, so reading
a VM that already moved past the position is harmless: the next catch-up rebuilds it again.
Two processes saving the same position collide on the version and the loser simply skips;
a process that may not write the store (a read-only reader) never saves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from attrs import frozen
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    PersistenceError,
    StoredEvent,
    Transcoder,
)

from vmcore.domain.config import Architecture
from vmcore.domain.lifecycle import VmState
from vmcore.domain.stored_topics import VM_EVENT_TOPICS

if TYPE_CHECKING:  # the aggregate (and the event classes) load only when a VM is read
    from vmcore.domain.aggregate import VirtualMachine

__all__ = ["FleetView", "VmSummary"]

VIEW_ID = UUID("469a7ba4-cc44-5e81-aa3f-7a9ff58a9cba")
"""``uuid5(UUID(int=0), "vmcore.fleet-view")``, written out: ``uuid5`` imports hashlib."""
VIEW_TOPIC = "vmcore.fleet-view:1"


@frozen
class VmSummary:
    """One row of the fleet view."""

    id: UUID
    name: str
    state: VmState
    reason: str | None
    version: int
    vcpus: int
    memory: int
    arch: Architecture
    updated_at: datetime

    @classmethod
    def of(cls, vm: VirtualMachine) -> VmSummary:
        config = vm.config
        return cls(vm.id, vm.name, vm.state, vm.reason, vm.version, config.vcpus,
                   config.memory, config.arch, vm.modified_on)

    def to_row(self) -> list[Any]:
        return [self.id.hex, self.name, self.state.value, self.reason, self.version,
                self.vcpus, self.memory, self.arch.value, self.updated_at.isoformat()]

    @classmethod
    def from_row(cls, row: list[Any]) -> VmSummary:
        vm_id, name, state, reason, version, vcpus, memory, arch, updated = row
        return cls(UUID(hex=vm_id), name, _STATES[state], reason, version, vcpus, memory,
                   _ARCHES[arch], datetime.fromisoformat(updated))


_STATES = {state.value: state for state in VmState}
_ARCHES = {arch.value: arch for arch in Architecture}


class FleetView:
    """Reads (and, when worth it, saves) the fleet view of one store."""

    save_after = 200
    """Save a new record once the catch-up read at least this many notifications."""

    def __init__(self, events: ApplicationRecorder, views: AggregateRecorder,
                 transcoder: Transcoder, get_vm: Callable[[UUID], VirtualMachine | None]):
        self._events = events
        self.views = views
        self._transcoder = transcoder
        self._get_vm = get_vm
        self._topics = list(VM_EVENT_TOPICS)

    def rows(self) -> list[VmSummary]:
        """Every VM ever created (deleted ones included), in creation order."""
        position, rows = self._load()
        touched: dict[UUID, None] = {}
        seen = 0
        new_position = position
        while True:
            page = self._events.select_notifications(new_position + 1, 1000,
                                                     topics=self._topics)
            for notification in page:
                if isinstance(notification.originator_id, UUID):
                    touched[notification.originator_id] = None
            seen += len(page)
            if page:
                new_position = page[-1].id  # only what was read: later commits come next time
            if len(page) < 1000:
                break
        if not touched:
            return list(rows.values())
        for vm_id in touched:
            vm = self._get_vm(vm_id)
            if vm is not None:
                rows[vm_id] = VmSummary.of(vm)
        if seen >= self.save_after or position == 0:
            self._save(new_position, rows.values())
        return list(rows.values())

    def _load(self) -> tuple[int, dict[UUID, VmSummary]]:
        latest = self.views.select_events(VIEW_ID, desc=True, limit=1)
        if not latest:
            return 0, {}
        data = self._transcoder.decode(latest[0].state)
        rows = (VmSummary.from_row(row) for row in data["rows"])
        return latest[0].originator_version, {row.id: row for row in rows}

    def _save(self, position: int, rows: Iterable[VmSummary]) -> None:
        state = self._transcoder.encode({"rows": [row.to_row() for row in rows]})
        # Another process may have saved this position first, or we may not write: fine.
        with suppress(PersistenceError, OSError):
            self.views.insert_events([StoredEvent(VIEW_ID, position, VIEW_TOPIC, state)])
