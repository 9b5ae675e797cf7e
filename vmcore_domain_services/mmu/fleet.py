"""The ``mmu`` domain service: the MMUs of every running vCPU, behind one registration.

An :class:`MmuService` belongs to one vCPU and lives as long as its machine; the service
registered on the bus is this fleet, to which a guest runner attaches its vCPU's MMU. On a
domain event after which no cached translation of a VM may be used (stop, restore, memory
freed ...), the fleet flushes the TLB of each MMU attached for that VM.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING
from uuid import UUID

from vmcore_domain_services.mmu.flushing import FLUSHING_TOPICS

if TYPE_CHECKING:  # the fleet loads with every writing command; the MMU only with a guest
    from vmcore_domain_services.mmu.service import MmuService


class MmuFleet:
    name = "mmu"

    def __init__(self) -> None:
        self._by_vm: dict[UUID, list[MmuService]] = {}
        self._lock = threading.Lock()
        self.flushes = 0

    def attach(self, mmu: MmuService) -> None:
        """Flush ``mmu`` on its VM's flushing events (its ``vm_id`` must be set)."""
        if mmu.vm_id is None:
            raise ValueError("attach the machine to its VM before attaching its MMU")
        with self._lock:
            self._by_vm.setdefault(mmu.vm_id, []).append(mmu)

    def detach(self, mmu: MmuService) -> None:
        with self._lock:
            mmus = self._by_vm.get(mmu.vm_id) if mmu.vm_id is not None else None
            if mmus and mmu in mmus:
                mmus.remove(mmu)
                if not mmus and mmu.vm_id is not None:
                    del self._by_vm[mmu.vm_id]

    def attached(self) -> int:
        return sum(len(mmus) for mmus in self._by_vm.values())

    def bus_handlers(self) -> dict[str, Callable[[object], None]]:
        return {topic: self.on_vm_event for topic in FLUSHING_TOPICS}

    def on_vm_event(self, event: object) -> None:
        vm_id = getattr(event, "originator_id", None)
        mmus = self._by_vm.get(vm_id) if isinstance(vm_id, UUID) else None
        if not mmus:
            return
        reason = str(getattr(event, "bus_topic", type(event).__name__))
        for mmu in list(mmus):
            mmu.flush_tlb(reason=reason)
            self.flushes += 1

    def health(self) -> tuple[bool, str]:
        return True, f"{self.attached()} MMU(s) attached"
