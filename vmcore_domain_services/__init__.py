"""vmcore's domain services: pure code over vmcore.domain values, reacting to bus events.

- ``lifecycle``: fleet statistics folded from VM events;
- ``memory``: sparse guest physical memory with MMIO and dirty tracking;
- ``mmu``: RISC-V Sv39/Sv48/Sv57 and x86-64 4/5-level page-table walkers, a
  set-associative TLB and the MMU service;
- ``riscv`` and ``execution``: the RV64 decoder, interpreter, block translator and the
  tiered execution manager.
"""

from typing import TYPE_CHECKING

from vmcore.domain.lazy_exports import lazy_exports

if TYPE_CHECKING:
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

# Names load on first use (PEP 562), so importing one submodule, or the package for
# one name, costs only what that name needs: the CLI's start-up depends on it.
_LAZY = {
    "LifecycleStatistics": "vmcore_domain_services.lifecycle",
    "PAGE_SIZE": "vmcore_domain_services.memory",
    "GuestMemory": "vmcore_domain_services.memory",
    "MemoryAccessError": "vmcore_domain_services.memory",
    "FLUSHING_TOPICS": "vmcore_domain_services.mmu",
    "SV39": "vmcore_domain_services.mmu",
    "SV48": "vmcore_domain_services.mmu",
    "SV57": "vmcore_domain_services.mmu",
    "X86_64_4LEVEL": "vmcore_domain_services.mmu",
    "X86_64_5LEVEL": "vmcore_domain_services.mmu",
    "Access": "vmcore_domain_services.mmu",
    "AdPolicy": "vmcore_domain_services.mmu",
    "MmuService": "vmcore_domain_services.mmu",
    "MmuTrap": "vmcore_domain_services.mmu",
    "PageFault": "vmcore_domain_services.mmu",
    "PageTableBuilder": "vmcore_domain_services.mmu",
    "Privilege": "vmcore_domain_services.mmu",
    "RiscvContext": "vmcore_domain_services.mmu",
    "Tlb": "vmcore_domain_services.mmu",
    "TlbGeometry": "vmcore_domain_services.mmu",
    "Translation": "vmcore_domain_services.mmu",
    "X86Context": "vmcore_domain_services.mmu",
    "probe": "vmcore_domain_services.mmu",
    "walk": "vmcore_domain_services.mmu",
    "walk_batch": "vmcore_domain_services.mmu",
}


__getattr__ = lazy_exports(__name__, _LAZY)


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
