"""``GET /v1/vms`` without re-reading every VM: the VMs as of a log position, kept current
by re-reading only the VMs whose events came after it.

:class:`KnownHead` is the newest position this process knows of: its own commits count at
once (the recorder's ``insert_events`` returns their ids before the command's response is
sent, so a client reads its own writes), other processes' when the log tailer sees them.
While the listing is at or past it, a read costs no I/O at all. The fleet read model planned
for the application layer replaces this.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

from vmcore.application.event_log import head_position, read_log
from vmcore.domain import VirtualMachine


class KnownHead:
    def __init__(self) -> None:
        self.position = 0
        self._lock = threading.Lock()

    def advance(self, position: int) -> None:
        with self._lock:
            self.position = max(self.position, position)

    def watch_commits(self, recorder: Any) -> None:
        """Advance on every commit through ``recorder`` (wraps its ``insert_events``)."""
        insert: Callable[..., Any] = recorder.insert_events

        def inserting(*args: Any, **kwargs: Any) -> Any:
            ids = insert(*args, **kwargs)
            if ids:
                self.advance(max(ids))
            return ids
        recorder.insert_events = inserting


class VmListing:
    def __init__(self, application: Any) -> None:
        self.application = application
        self.position = 0
        self.vms: dict[UUID, VirtualMachine] = {}  # in creation order
        self._lock = threading.Lock()

    def cached(self, head: int, *, include_deleted: bool = False) -> list[VirtualMachine] | None:
        """The VMs, if the listing has seen position ``head``; else ``None``."""
        if self.position < head:
            return None
        return self._select(list(self.vms.values()), include_deleted)

    def list_vms(self, *, include_deleted: bool = False) -> list[VirtualMachine]:
        with self._lock:
            if head_position(self.application) != self.position:
                self._catch_up()
            vms = list(self.vms.values())
        return self._select(vms, include_deleted)

    @staticmethod
    def _select(vms: list[VirtualMachine], include_deleted: bool) -> list[VirtualMachine]:
        return [vm for vm in vms if include_deleted or vm.state.value != "deleted"]

    def _catch_up(self) -> None:
        touched: dict[UUID, None] = {}
        position = self.position
        while True:
            page = read_log(self.application, position)
            for item in page.events:
                touched[item.event.originator_id] = None
            position = page.last_position
            if page.exhausted:
                break
        for vm_id in touched:
            self.vms[vm_id] = self.application.get_vm(vm_id)
        self.position = position  # only now: cached() trusts the VMs up to here
