"""The MMU: paging modes as data, RISC-V and x86-64 walkers, a set-associative TLB."""

from typing import TYPE_CHECKING

from vmcore.domain.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from vmcore_domain_services.mmu.access import (
        ALL_RIGHTS,
        RIGHT_R,
        RIGHT_W,
        RIGHT_X,
        Access,
        AdPolicy,
        Privilege,
        RiscvContext,
        X86Context,
    )
    from vmcore_domain_services.mmu.builder import PageTableBuilder
    from vmcore_domain_services.mmu.faults import (
        PAGE_FAULT_TOPIC,
        TLB_FLUSHED_TOPIC,
        MmuTrap,
        raise_mmu_exception,
    )
    from vmcore_domain_services.mmu.flushing import FLUSHING_TOPICS
    from vmcore_domain_services.mmu.micro_tlb import MicroTlb
    from vmcore_domain_services.mmu.modes import (
        SV39,
        SV48,
        SV57,
        X86_64_4LEVEL,
        X86_64_5LEVEL,
        PagingMode,
        root_from_cr3,
        root_from_satp,
    )
    from vmcore_domain_services.mmu.permissions import tlb_table_for
    from vmcore_domain_services.mmu.protocols import PhysicalMemory
    from vmcore_domain_services.mmu.results import PageFault, Translation
    from vmcore_domain_services.mmu.service import MmuService
    from vmcore_domain_services.mmu.tlb import Tlb, TlbGeometry, TlbStats
    from vmcore_domain_services.mmu.walker import probe, walk, walk_batch

# Names load on first use (PEP 562): importing one submodule costs only what it needs.
_LAZY = {
    "ALL_RIGHTS": "vmcore_domain_services.mmu.access",
    "RIGHT_R": "vmcore_domain_services.mmu.access",
    "RIGHT_W": "vmcore_domain_services.mmu.access",
    "RIGHT_X": "vmcore_domain_services.mmu.access",
    "Access": "vmcore_domain_services.mmu.access",
    "AdPolicy": "vmcore_domain_services.mmu.access",
    "Privilege": "vmcore_domain_services.mmu.access",
    "RiscvContext": "vmcore_domain_services.mmu.access",
    "X86Context": "vmcore_domain_services.mmu.access",
    "PageTableBuilder": "vmcore_domain_services.mmu.builder",
    "PAGE_FAULT_TOPIC": "vmcore_domain_services.mmu.faults",
    "TLB_FLUSHED_TOPIC": "vmcore_domain_services.mmu.faults",
    "MmuTrap": "vmcore_domain_services.mmu.faults",
    "raise_mmu_exception": "vmcore_domain_services.mmu.faults",
    "MicroTlb": "vmcore_domain_services.mmu.micro_tlb",
    "SV39": "vmcore_domain_services.mmu.modes",
    "SV48": "vmcore_domain_services.mmu.modes",
    "SV57": "vmcore_domain_services.mmu.modes",
    "X86_64_4LEVEL": "vmcore_domain_services.mmu.modes",
    "X86_64_5LEVEL": "vmcore_domain_services.mmu.modes",
    "PagingMode": "vmcore_domain_services.mmu.modes",
    "root_from_cr3": "vmcore_domain_services.mmu.modes",
    "root_from_satp": "vmcore_domain_services.mmu.modes",
    "tlb_table_for": "vmcore_domain_services.mmu.permissions",
    "PhysicalMemory": "vmcore_domain_services.mmu.protocols",
    "PageFault": "vmcore_domain_services.mmu.results",
    "Translation": "vmcore_domain_services.mmu.results",
    "FLUSHING_TOPICS": "vmcore_domain_services.mmu.flushing",
    "MmuService": "vmcore_domain_services.mmu.service",
    "Tlb": "vmcore_domain_services.mmu.tlb",
    "TlbGeometry": "vmcore_domain_services.mmu.tlb",
    "TlbStats": "vmcore_domain_services.mmu.tlb",
    "probe": "vmcore_domain_services.mmu.walker",
    "walk": "vmcore_domain_services.mmu.walker",
    "walk_batch": "vmcore_domain_services.mmu.walker",
}

__all__ = [
    "ALL_RIGHTS",
    "FLUSHING_TOPICS",
    "PAGE_FAULT_TOPIC",
    "RIGHT_R",
    "RIGHT_W",
    "RIGHT_X",
    "SV39",
    "SV48",
    "SV57",
    "TLB_FLUSHED_TOPIC",
    "X86_64_4LEVEL",
    "X86_64_5LEVEL",
    "Access",
    "AdPolicy",
    "MicroTlb",
    "MmuService",
    "MmuTrap",
    "PageFault",
    "PageTableBuilder",
    "PagingMode",
    "PhysicalMemory",
    "Privilege",
    "RiscvContext",
    "Tlb",
    "TlbGeometry",
    "TlbStats",
    "Translation",
    "X86Context",
    "probe",
    "raise_mmu_exception",
    "root_from_cr3",
    "root_from_satp",
    "tlb_table_for",
    "walk",
    "walk_batch",
]


__getattr__ = lazy_exports(__name__, _LAZY)
