"""``GET /v1/vms`` without re-reading every VM: the VMs as of a log position, kept current
by re-reading only the VMs whose events came after it.

Each call asks the store for its head position (exact, so a client reads its own writes);
when the head moved, the events since the last call name the VMs to reload. The fleet read
model planned for the application layer replaces this.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

from vmcore.application.event_log import head_position, read_log
from vmcore.domain import VirtualMachine


class VmListing:
    def __init__(self, application: Any) -> None:
        self.application = application
        self.position = 0
        self.vms: dict[UUID, VirtualMachine] = {}  # in creation order
        self._lock = threading.Lock()

    def list_vms(self, *, include_deleted: bool = False) -> list[VirtualMachine]:
        with self._lock:
            if head_position(self.application) != self.position:
                self._catch_up()
            vms = list(self.vms.values())
        return [vm for vm in vms if include_deleted or vm.state.value != "deleted"]

    def _catch_up(self) -> None:
        touched: dict[UUID, None] = {}
        while True:
            page = read_log(self.application, self.position)
            for item in page.events:
                touched[item.event.originator_id] = None
            self.position = page.last_position
            if page.exhausted:
                break
        for vm_id in touched:
            self.vms[vm_id] = self.application.get_vm(vm_id)
