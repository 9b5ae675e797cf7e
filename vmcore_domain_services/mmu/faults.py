"""The one place where a fault value becomes an architectural exception and an event.

Walkers return :class:`PageFault` values; :func:`raise_mmu_exception` (named after QEMU's
``raise_mmu_exception``) publishes ``mmu.page_fault`` on the runtime bus and raises
:class:`MmuTrap`, which the executor turns into the guest trap (RISC-V scause/stval,
x86 vector/error code/CR2).
"""

from __future__ import annotations

from typing import NoReturn
from uuid import UUID

from vmcore.domain.runtime import RuntimeEvent, RuntimePublisher
from vmcore_domain_services.mmu.results import PageFault

PAGE_FAULT_TOPIC = "mmu.page_fault"
TLB_FLUSHED_TOPIC = "mmu.tlb_flushed"


class MmuTrap(Exception):
    """A guest memory access trapped; ``fault`` says how the architecture reports it."""

    def __init__(self, fault: PageFault) -> None:
        self.fault = fault
        super().__init__(
            f"cause {fault.cause} at {fault.address:#x} ({fault.access.name.lower()}, "
            f"error code {fault.error_code:#x}): {fault.reason}"
        )


def page_fault_event(fault: PageFault, vm_id: UUID | None) -> RuntimeEvent:
    return RuntimeEvent(
        PAGE_FAULT_TOPIC,
        vm_id,
        {
            "cause": fault.cause,
            "address": fault.address,
            "access": fault.access.name.lower(),
            "error_code": fault.error_code,
            "reason": fault.reason,
        },
    )


def raise_mmu_exception(
    fault: PageFault, vm_id: UUID | None, publish: RuntimePublisher
) -> NoReturn:
    """Publish the fault as a runtime event, then raise it as :class:`MmuTrap`."""
    publish(page_fault_event(fault, vm_id))
    raise MmuTrap(fault)
