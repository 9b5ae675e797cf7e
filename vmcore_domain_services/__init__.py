"""vmcore's domain services: pure code over vmcore.domain values, reacting to bus events.

- ``lifecycle``: fleet statistics folded from VM events;
- ``memory``: sparse guest physical memory with MMIO and dirty tracking;
- ``mmu``: RISC-V Sv39/Sv48/Sv57 and x86-64 4/5-level page-table walkers, a
  set-associative TLB and the MMU service;
- ``riscv`` and ``execution``: the RV64 decoder, interpreter, block translator and the
  tiered execution manager.
"""

from vmcore_domain_services.lifecycle import LifecycleStatistics
from vmcore_domain_services.memory import PAGE_SIZE, GuestMemory, MemoryAccessError
from vmcore_domain_services.mmu import (
    FLUSHING_TOPICS,
    SV39,
    SV48,
    SV57,
    X86_64_4LEVEL,
    X86_64_5LEVEL,
    Access,
    AdPolicy,
    MmuService,
    MmuTrap,
    PageFault,
    PageTableBuilder,
    Privilege,
    RiscvContext,
    Tlb,
    TlbGeometry,
    Translation,
    X86Context,
    probe,
    walk,
    walk_batch,
)

__all__ = [
    "FLUSHING_TOPICS",
    "PAGE_SIZE",
    "SV39",
    "SV48",
    "SV57",
    "X86_64_4LEVEL",
    "X86_64_5LEVEL",
    "Access",
    "AdPolicy",
    "GuestMemory",
    "LifecycleStatistics",
    "MemoryAccessError",
    "MmuService",
    "MmuTrap",
    "PageFault",
    "PageTableBuilder",
    "Privilege",
    "RiscvContext",
    "Tlb",
    "TlbGeometry",
    "Translation",
    "X86Context",
    "probe",
    "walk",
    "walk_batch",
]
