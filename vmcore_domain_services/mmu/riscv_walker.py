"""The RISC-V Sv39/Sv48/Sv57 walk, step by step as the privileged spec (4.3.2).

:func:`spec_walk_riscv` is the spec's algorithm: descend while the PTE is a valid pointer,
then :func:`_end_of_walk` decides what the PTE where it stopped means (a fault, or a leaf:
permissions, superpage alignment, A/D bits, the translation). :func:`walk_riscv` runs the
same walk specialised for ``GuestMemory`` (:func:`_fast_walk`): levels unrolled, PTEs read
straight from ``GuestMemory.word_pages``, and the common end (a 4 KiB leaf that permits the
access and needs no A/D update) inline; every other end goes to the same
:func:`_end_of_walk`. The fast walk never touches MMIO: a table outside allocated RAM makes
it give up (before any write) and the spec walk starts over.
"""

from __future__ import annotations

from collections.abc import Sequence

from vmcore_domain_services.memory import GuestMemory, MemoryAccessError
from vmcore_domain_services.mmu.access import (
    ALL_RIGHTS,
    RIGHT_R,
    RIGHT_W,
    RIGHT_X,
    Access,
    AdPolicy,
    RiscvContext,
)
from vmcore_domain_services.mmu.modes import PagingMode
from vmcore_domain_services.mmu.permissions import (
    PTE_A,
    PTE_D,
    PTE_G,
    PTE_R,
    PTE_U,
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
_M64 = (1 << 64) - 1
_RESERVED = 0x3FF << 54  # PTE bits 63:54 (Svnapot, Svpbmt and reserved: must be 0 here)
# D, A and U of a pointer PTE are "reserved for future standard use" (4.3.1), and a set
# reserved bit is a page fault (4.3.2 step 3, since privileged spec 1.12; QEMU 7.2, Spike).
_POINTER_RESERVED = _RESERVED | PTE_D | PTE_A | PTE_U
# By a PTE's low byte: the accesses for which it is a valid leaf that needs no A/D update
# (A set; D too for a store). The access must also be in the context's rights.
_READY_LEAF = tuple(
    RIGHT_X | RIGHT_R | (RIGHT_W if flags & PTE_D else 0)
    if _KIND[flags & 0xF] == _LEAF_KIND and flags & PTE_A
    else 0
    for flags in range(256)
)
# Sv48, Sv57: (level, page shift) of the levels above VPN[2]
_ABOVE_VPN2 = {4: ((3, 39),), 5: ((4, 48), (3, 39))}


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
    if type(memory) is GuestMemory:
        result = _fast_walk(mode.levels, root, va, access, context, memory, probe)
        if result is not None:
            return result
    return spec_walk_riscv(mode, root, va, access, context, memory, probe)


def _fast_walk(
    levels: int,
    root: int,
    va: int,
    access: Access,
    context: RiscvContext,
    memory: GuestMemory,
    probe: bool,
) -> Translation | PageFault | None:
    """The spec's walk specialised for ``GuestMemory``; None leaves the whole walk to
    :func:`spec_walk_riscv` (machine mode, a non-canonical address, an unaligned root, a
    table page not in ``word_pages``: unwritten RAM, MMIO or no memory).

    Specialised: the three levels every mode shares (2, 1, 0: Sv39's VPN[2..0]) are
    unrolled, after a loop over Sv48/Sv57's extra levels. Where a PTE is not a valid
    pointer, or the 4 KiB leaf is not ready for the access (a fault, or A/D to set), the
    spec's :func:`_end_of_walk` decides, exactly as in :func:`spec_walk_riscv`.
    """
    top_ones = _TOP_ONES.get(levels)
    if top_ones is None or root & 0xFFF or context.privilege == 3:
        return None
    top = va >> (_LEVEL_SHIFT[levels] - 1)
    if top and top != top_ones:
        return None
    # A pointer is V=1, R=W=X=0 with its reserved bits clear (QEMU 5.0 checks none). A leaf
    # with bits 63:54 set always goes to _end_of_walk: a fault, or (QEMU 5.0) a PPN whose
    # high bits shift out of the 64-bit address.
    pointer_mask = (0 if context.qemu_5_0 else _POINTER_RESERVED) | 0xF
    pages = memory.word_pages
    table = root >> 12  # page number of the table being read
    upper: tuple[int, ...] = ()  # PTE addresses above level 2 (Sv48, Sv57)
    # A KeyError below is a table page not in word_pages (_end_of_walk reads nothing and
    # writes only the RAM word its PTE came from).
    try:
        if levels > 3:
            for level, shift in _ABOVE_VPN2[levels]:
                index = (va >> shift) & 0x1FF
                pte = pages[table][index]
                upper += ((table << 12) + index * 8,)
                if pte & pointer_mask != PTE_V:
                    return _end_of_walk(level, pte, va, access, context, memory, probe, upper)
                table = pte >> 10
        index2 = (va >> 30) & 0x1FF
        pte = pages[table][index2]
        address2 = (table << 12) + index2 * 8
        if pte & pointer_mask != PTE_V:
            return _end_of_walk(2, pte, va, access, context, memory, probe, (*upper, address2))
        table1 = pte >> 10
        index1 = (va >> 21) & 0x1FF
        pte = pages[table1][index1]
        address1 = (table1 << 12) + index1 * 8
        if pte & pointer_mask != PTE_V:
            addresses: tuple[int, ...] = (*upper, address2, address1)
            return _end_of_walk(1, pte, va, access, context, memory, probe, addresses)
        table0 = pte >> 10
        index0 = (va >> 12) & 0x1FF
        pte = pages[table0][index0]
    except KeyError:
        return None
    # Concatenation, not (*upper, ...): the star form builds a list first, 2-3x slower.
    addresses = upper + (address2, address1, (table0 << 12) + index0 * 8)  # noqa: RUF005
    flags = pte & 0xFF
    rights = context.rights_table[flags]
    if not (rights & _READY_LEAF[flags]) >> access & 1 or pte & _RESERVED:
        return _end_of_walk(0, pte, va, access, context, memory, probe, addresses)
    return _new_translation(
        Translation,
        (
            ((pte >> 10) << 12) | (va & 0xFFF),
            4096,
            flags,
            rights,
            pte & PTE_G != 0,
            addresses,
            pte,
        ),
    )


def spec_walk_riscv(
    mode: PagingMode,
    root: int,
    va: int,
    access: Access,
    context: RiscvContext,
    memory: PhysicalMemory,
    probe: bool = False,
) -> Translation | PageFault:
    """:func:`walk_riscv` without the fast path: the privileged spec's algorithm (4.3.2)."""
    if context.privilege == 3:
        return Translation(va, 4096, 0xFF, ALL_RIGHTS, False, (), 0)
    levels = mode.levels
    top = va >> (_LEVEL_SHIFT[levels] - 1)
    if top and top != _TOP_ONES[levels]:
        return _page_fault(va, access, "non-canonical address")
    compat = context.qemu_5_0
    pointer_reserved = 0 if compat else _POINTER_RESERVED
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
        # Descend while the PTE is a pointer (V=1, R=W=X=0) with its reserved bits clear.
        if _KIND[pte & 0xF] != _POINTER or pte & pointer_reserved or not level:
            return _end_of_walk(level, pte, va, access, context, memory, probe, pte_addresses)
        level -= 1
        shift -= 9
        table = ((pte >> 10) << 12) & _M64  # QEMU 5.0: bits 63:54 shift out (hwaddr)


def _end_of_walk(
    level: int,
    pte: int,
    va: int,
    access: Access,
    context: RiscvContext,
    memory: PhysicalMemory,
    probe: bool,
    pte_addresses: Sequence[int],
) -> Translation | PageFault:
    """Where the walk stops descending, at ``pte`` (read at ``pte_addresses[-1]``): a fault
    (invalid, reserved bits, no leaf at level 0) or a leaf (spec steps 5-8)."""
    kind = _KIND[pte & 0xF]  # V, R, W, X: invalid, pointer or leaf
    if kind == _INVALID:
        return _invalid(va, access, pte, level)
    if pte >> 54 and not context.qemu_5_0:
        return _page_fault(va, access, f"reserved bits 63:54 set at level {level}")
    if kind == _POINTER:
        if pte & (PTE_D | PTE_A | PTE_U) and not context.qemu_5_0:
            return _page_fault(va, access, f"D, A or U set in the pointer at level {level}")
        return _page_fault(va, access, "no leaf at level 0")
    # A leaf. Bits 63:54 are clear here unless compat: QEMU 5.0 folds them into the PPN and
    # computes the address in a 64-bit hwaddr, so what shifts past bit 63 is lost.
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
                memory.write(pte_addresses[-1], 8, pte)
            except MemoryAccessError:
                return PageFault(ACCESS_FAULT_CAUSE[access], va, access, 0, "PTE outside memory")
    shift = _LEVEL_SHIFT[level]
    physical = (((ppn >> (9 * level)) << shift) | (va & ((1 << shift) - 1))) & _M64
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
