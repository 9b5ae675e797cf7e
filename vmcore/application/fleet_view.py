"""The fleet view: one row per VM (what ``vm list`` shows), kept by a projection.

The projection follows the application's notification log with a tracked position. Its
state is stored in the same store as the events (any store: file, SQLite, PostgreSQL,
memory), as a record of a ``views`` aggregate recorder whose *version is the position*: the
id of the last notification it has seen. The first read loads the latest record; every read
then asks the store for the VM notifications after the position (the store's topic filter,
so other events are not decoded), rebuilds the rows of the VMs they touch from those VMs'
current state (snapshot plus a few events), and, when it caught up a long way, saves a new
record. So listing costs one record plus the recent tail, not one aggregate per VM; and a
long-lived process (``vmcore serve``) keeps the rows in memory and reads only what is new.

Rows are always rebuilt from the VM's current state, never patched with deltas, so reading
a VM that already moved past the position is harmless: the next catch-up rebuilds it again.
Two processes saving the same position collide on the version and the loser simply skips;
a process that may not write the store (a read-only reader) never saves.

A row is a named tuple, built straight from the stored record: listing 10,000 VMs builds
10,000 of them, so their construction is the cost that matters (see docs/performance.md).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID, SafeUUID

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

# One record stream per format: the first ("vmcore.fleet-view", a list of rows) is ignored
# and rebuilt from the log once, rather than colliding with its position.
VIEW_ID = UUID("419c9ea1-b3ff-531a-914d-c94912778001")
"""``uuid5(UUID(int=0), "vmcore.fleet-view:columns")``, written out: ``uuid5`` imports
hashlib."""
VIEW_TOPIC = "vmcore.fleet-view:2"
PAGE = 1000


class VmSummary(NamedTuple):
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



_STATES = {state.value: state for state in VmState}
_ARCHES = {arch.value: arch for arch in Architecture}
_new_uuid = object.__new__
_set_slot = object.__setattr__
_UNKNOWN = SafeUUID.unknown


def uuid_from_hex(hex_digits: str) -> UUID:
    """``UUID(hex=...)`` for 32 lower-case hex digits (what ``UUID.hex`` wrote), without
    ``UUID.__init__``'s parsing of every accepted spelling: half a row's cost. The two
    slots set here are all a ``UUID`` has (Python 3.14's ``UUID._from_int`` does the same).
    """
    value = _new_uuid(UUID)
    _set_slot(value, "int", int(hex_digits, 16))
    _set_slot(value, "is_safe", _UNKNOWN)
    return value


def encode_rows(rows: Collection[VmSummary]) -> dict[str, list[Any]]:
    """The rows as columns of JSON values (a column decodes with one ``map``)."""
    return {
        "id": [row.id.hex for row in rows],
        "name": [row.name for row in rows],
        "state": [row.state.value for row in rows],
        "reason": [row.reason for row in rows],
        "version": [row.version for row in rows],
        "vcpus": [row.vcpus for row in rows],
        "memory": [row.memory for row in rows],
        "arch": [row.arch.value for row in rows],
        "updated_at": [row.updated_at.isoformat() for row in rows],
    }


def decode_rows(columns: dict[str, list[Any]]) -> dict[str, VmSummary]:
    """What :func:`encode_rows` wrote, keyed by the VMs' ids in hex. Built column by column
    in C loops (``map``, ``zip``); only the UUIDs cost a Python call each."""
    ids = columns["id"]
    with _no_collection():
        return _decoded(ids, columns)


def _decoded(ids: list[str], columns: dict[str, list[Any]]) -> dict[str, VmSummary]:
    values = zip(map(uuid_from_hex, ids), columns["name"],
                 map(_STATES.__getitem__, columns["state"]), columns["reason"],
                 columns["version"], columns["vcpus"], columns["memory"],
                 map(_ARCHES.__getitem__, columns["arch"]),
                 map(datetime.fromisoformat, columns["updated_at"]), strict=True)
    return dict(zip(ids, map(tuple.__new__, repeat(VmSummary), values), strict=True))


@contextmanager
def _no_collection() -> Iterator[None]:
    """The cyclic garbage collector paused: building 10,000 rows allocates 20,000 tracked
    objects and no garbage, and a full collection it would trigger midway costs as much as
    the whole decode (measured: 22 ms decodes, 45-55 ms with a collection)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class FleetView:
    """Reads (and, when worth it, saves) the fleet view of one store.

    Thread-safe: reads in several threads (``vmcore serve``'s pool) share one catch-up.
    """

    save_after = 200
    """Save a new record once this many notifications were read since the last save."""

    def __init__(self, events: ApplicationRecorder, views: AggregateRecorder,
                 transcoder: Transcoder, get_vm: Callable[[UUID], VirtualMachine | None]):
        self._events = events
        self.views = views
        self._transcoder = transcoder
        self._get_vm = get_vm
        self._topics = list(VM_EVENT_TOPICS)
        self._lock = threading.Lock()
        self._rows: dict[str, VmSummary] | None = None  # None: the record is not loaded
        self._position = 0  # the last VM notification the rows include
        self._saved = 0  # the position of the newest record saved or loaded
        self._unsaved = 0  # notifications read since then
        self._head = -1  # the log's head when the rows were last brought up to date

    def rows(self) -> list[VmSummary]:
        """Every VM ever created (deleted ones included), in creation order."""
        with self._lock:
            head = int(self._events.max_notification_id() or 0)
            if self._rows is None:
                self._position, self._rows = self._load()
                self._saved = self._position
            if head != self._head:
                self._rows = self._caught_up(self._rows)
                self._head = head  # after the rows, for cached(); later commits come next time
            return list(self._rows.values())

    def cached(self, head: int) -> list[VmSummary] | None:
        """The rows, without any I/O, if they include every commit up to ``head``; else
        ``None`` (then call :meth:`rows`). Safe beside a catch-up in another thread: that
        replaces the rows' dict rather than changing it, and sets the head last."""
        if self._head < head:
            return None
        rows = self._rows
        return None if rows is None else list(rows.values())

    def _caught_up(self, rows: dict[str, VmSummary]) -> dict[str, VmSummary]:
        touched: dict[UUID, None] = {}
        while True:
            page = self._events.select_notifications(self._position + 1, PAGE,
                                                     topics=self._topics)
            for notification in page:
                if isinstance(notification.originator_id, UUID):
                    touched[notification.originator_id] = None
            self._unsaved += len(page)
            if page:
                self._position = page[-1].id
            if len(page) < PAGE:
                break
        if not touched:
            return rows
        rows = dict(rows)
        for vm_id in touched:
            vm = self._get_vm(vm_id)
            if vm is not None:
                rows[vm_id.hex] = VmSummary.of(vm)
        if self._unsaved >= self.save_after or self._saved == 0:
            self._save(self._position, rows.values())
        return rows

    def _load(self) -> tuple[int, dict[str, VmSummary]]:
        latest = self.views.select_events(VIEW_ID, desc=True, limit=1)
        if not latest or latest[0].topic != VIEW_TOPIC:
            return 0, {}
        return latest[0].originator_version, decode_rows(self._transcoder.decode(latest[0].state))

    def _save(self, position: int, rows: Collection[VmSummary]) -> None:
        state = self._transcoder.encode(encode_rows(rows))
        # Another process may have saved this position first, or we may not write: fine.
        with suppress(PersistenceError, OSError):
            self.views.insert_events([StoredEvent(VIEW_ID, position, VIEW_TOPIC, state)])
        self._saved = position
        self._unsaved = 0
