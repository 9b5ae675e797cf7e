"""The RISC-V Sv39/Sv48/Sv57 walk, step by step as the privileged spec (4.3.2)."""

from __future__ import annotations

from vmcore_domain_services.memory import MemoryAccessError
from vmcore_domain_services.mmu.access import ALL_RIGHTS, Access, AdPolicy, RiscvContext
from vmcore_domain_services.mmu.modes import PagingMode
from vmcore_domain_services.mmu.permissions import (
    PTE_A,
    PTE_D,
    PTE_G,
    PTE_R,
    PTE_V,
    PTE_W,
    PTE_X,
    riscv_rights_table,
)
from vmcore_domain_services.mmu.protocols import PhysicalMemory
from vmcore_domain_services.mmu.results import PageFault, Translation

PAGE_FAULT_CAUSE = (12, 13, 15)
ACCESS_FAULT_CAUSE = (1, 5, 7)
_PPN_MASK = (1 << 44) - 1
_LEAF = PTE_R | PTE_X
_RIGHTS: dict[tuple[int, bool, bool], tuple[int, ...]] = {}
_new_translation = tuple.__new__  # skips NamedTuple's Python-level __new__ on the hot path
_TOP_ONES = {levels: (1 << (65 - 12 - 9 * levels)) - 1 for levels in (3, 4, 5)}


def walk_riscv(
    mode: PagingMode,
    root: int,
    va: int,
    access: Access,
    context: RiscvContext,
    memory: PhysicalMemory,
    probe: bool = False,
) -> Translation | PageFault:
    """Translate ``va``; ``root`` is the physical address of the root table (satp.PPN << 12).

    Every RV64 mode has 9-bit indices and 8-byte PTEs; ``mode`` gives the number of levels.

    With ``probe`` the walk writes nothing (A/D bits are reported as they would be set).
    """
    if context.privilege == 3:
        return Translation(va, 4096, 0xFF, ALL_RIGHTS, False, (), 0)
    top = va >> (mode.page_shift + mode.levels * mode.index_bits - 1)
    if top and top != _TOP_ONES[mode.levels]:
        return _page_fault(va, access, "non-canonical address")
    compat = context.qemu_5_0
    read = memory.read
    level = mode.levels - 1
    table = root
    pte_addresses: list[int] = []
    while True:
        pte_address = table + ((va >> (12 + 9 * level)) & 0x1FF) * 8
        try:
            pte = read(pte_address, 8)
        except MemoryAccessError:
            if not compat:
                return PageFault(ACCESS_FAULT_CAUSE[access], va, access, 0, "PTE outside memory")
            pte = 0  # QEMU 5.0 reads unassigned memory as zero: V=0, a page fault
        pte_addresses.append(pte_address)
        if not pte & PTE_V:
            return _page_fault(va, access, f"V=0 at level {level}")
        if pte & (PTE_R | PTE_W) == PTE_W:
            return _page_fault(va, access, f"W without R at level {level}")
        if compat:
            ppn = pte >> 10
        else:
            if pte >> 54:
                return _page_fault(va, access, f"reserved bits 63:54 set at level {level}")
            ppn = (pte >> 10) & _PPN_MASK
        if pte & _LEAF:
            break
        level -= 1
        if level < 0:
            return _page_fault(va, access, "no leaf at level 0")
        table = ppn << 12
    table_key = context.rights_key
    rights_table = _RIGHTS.get(table_key)
    if rights_table is None:
        rights_table = _RIGHTS[table_key] = riscv_rights_table(table_key)
    rights = rights_table[pte & 0xFF]
    if not rights >> access & 1:
        return _page_fault(va, access, f"{access.name.lower()} not permitted by PTE/context")
    if level and ppn & ((1 << (9 * level)) - 1):
        return _page_fault(va, access, f"misaligned superpage at level {level}")
    needed = PTE_A | PTE_D if access == 2 else PTE_A
    if pte & needed != needed:
        if context.ad_policy is AdPolicy.FAULT:
            return _page_fault(va, access, "A or D clear (Svade)")
        pte |= needed
        if not probe:
            try:
                memory.write(pte_address, 8, pte)
            except MemoryAccessError:
                return PageFault(ACCESS_FAULT_CAUSE[access], va, access, 0, "PTE outside memory")
    shift = 12 + 9 * level
    physical = ((ppn >> (9 * level)) << shift) | (va & ((1 << shift) - 1))
    return _new_translation(
        Translation,
        (physical, 1 << shift, pte & 0xFF, rights, pte & PTE_G != 0, tuple(pte_addresses), pte),
    )


def _page_fault(va: int, access: Access, reason: str) -> PageFault:
    return PageFault(PAGE_FAULT_CAUSE[access], va, access, 0, reason)
