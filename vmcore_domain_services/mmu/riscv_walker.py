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
)
from vmcore_domain_services.mmu.protocols import PhysicalMemory, u64_reader
from vmcore_domain_services.mmu.results import PageFault, Translation

PAGE_FAULT_CAUSE = (12, 13, 15)
ACCESS_FAULT_CAUSE = (1, 5, 7)
_LEAF = PTE_R | PTE_X
_new_translation = tuple.__new__  # skips NamedTuple's Python-level __new__ on the hot path
_TOP_ONES = {levels: (1 << (65 - 12 - 9 * levels)) - 1 for levels in (3, 4, 5)}
_LEVEL_SHIFT = (12, 21, 30, 39, 48, 57)  # page shift at each level (and VA bits per levels)
_INVALID, _POINTER, _LEAF_KIND = 0, 1, 2
# By the PTE's V, R, W, X bits: V=0 or W without R is invalid, R=W=X=0 a pointer.
_KIND = tuple(
    _INVALID
    if not bits & PTE_V or bits & (PTE_R | PTE_W) == PTE_W
    else (_LEAF_KIND if bits & _LEAF else _POINTER)
    for bits in range(16)
)


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
    levels = mode.levels
    top = va >> (_LEVEL_SHIFT[levels] - 1)
    if top and top != _TOP_ONES[levels]:
        return _page_fault(va, access, "non-canonical address")
    compat = context.qemu_5_0
    read = u64_reader(memory)
    level = levels - 1
    shift = _LEVEL_SHIFT[level]
    table = root
    pte_addresses: list[int] = []
    append = pte_addresses.append
    while True:
        pte_address = table + ((va >> shift) & 0x1FF) * 8
        try:
            pte = read(pte_address)
        except MemoryAccessError:
            if not compat:
                return PageFault(ACCESS_FAULT_CAUSE[access], va, access, 0, "PTE outside memory")
            pte = 0  # QEMU 5.0 reads unassigned memory as zero: V=0, a page fault
        append(pte_address)
        kind = _KIND[pte & 0xF]  # V, R, W, X: invalid, pointer or leaf
        if kind != _POINTER:
            if kind == _INVALID:
                return _invalid(va, access, pte, level)
            if pte >> 54 and not compat:
                return _page_fault(va, access, f"reserved bits 63:54 set at level {level}")
            break
        if pte >> 54 and not compat:
            return _page_fault(va, access, f"reserved bits 63:54 set at level {level}")
        if not level:
            return _page_fault(va, access, "no leaf at level 0")
        level -= 1
        shift -= 9
        table = (pte >> 10) << 12
    # Bits 63:54 are clear here unless compat (QEMU 5.0 folds them into the PPN).
    ppn = pte >> 10
    rights = context.rights_table[pte & 0xFF]
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
    physical = ((ppn >> (9 * level)) << shift) | (va & ((1 << shift) - 1))
    return _new_translation(
        Translation,
        (physical, 1 << shift, pte & 0xFF, rights, pte & PTE_G != 0, tuple(pte_addresses), pte),
    )


def _invalid(va: int, access: Access, pte: int, level: int) -> PageFault:
    if not pte & PTE_V:
        return _page_fault(va, access, f"V=0 at level {level}")
    return _page_fault(va, access, f"W without R at level {level}")


def _page_fault(va: int, access: Access, reason: str) -> PageFault:
    return PageFault(PAGE_FAULT_CAUSE[access], va, access, 0, reason)
