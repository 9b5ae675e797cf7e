"""The MMU: paging modes as data, RISC-V and x86-64 walkers, a set-associative TLB."""

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
from vmcore_domain_services.mmu.service import FLUSHING_TOPICS, MmuService
from vmcore_domain_services.mmu.tlb import Tlb, TlbGeometry, TlbStats
from vmcore_domain_services.mmu.walker import probe, walk, walk_batch

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
