"""The x86-64 4-level and 5-level (LA57) walk, as the SDM (vol. 3, chapter 4.5-4.7)."""

from __future__ import annotations

from vmcore_domain_services.memory import MemoryAccessError
from vmcore_domain_services.mmu.access import Access, X86Context
from vmcore_domain_services.mmu.modes import PagingMode
from vmcore_domain_services.mmu.permissions import (
    X86_KEY_D,
    X86_KEY_NX,
    X86_KEY_U,
    X86_KEY_W,
)
from vmcore_domain_services.mmu.protocols import PhysicalMemory, u64_reader
from vmcore_domain_services.mmu.results import PageFault, Translation

PF_VECTOR = 14
GP_VECTOR = 13
PF_P = 1 << 0
PF_W = 1 << 1
PF_U = 1 << 2
PF_RSVD = 1 << 3
PF_I = 1 << 4

_P = 1 << 0
_RW = 1 << 1
_US = 1 << 2
_A = 1 << 5
_D = 1 << 6
_PS = 1 << 7
_G = 1 << 8
_PAT_LARGE = 1 << 12
_NX = 1 << 63
_ADDRESS = 0x000F_FFFF_FFFF_F000
_new_translation = tuple.__new__  # skips NamedTuple's Python-level __new__ on the hot path
_LARGE_RSVD = ((1 << 30) - 1) & _ADDRESS & ~_PAT_LARGE
_CANONICAL_SHIFT = {4: 47, 5: 56}  # bits 63..47 (63..56 with LA57) must all be equal
_TOP_ONES = {levels: (1 << (64 - shift)) - 1 for levels, shift in _CANONICAL_SHIFT.items()}


def walk_x86(
    mode: PagingMode,
    root: int,
    va: int,
    access: Access,
    context: X86Context,
    memory: PhysicalMemory,
    probe: bool = False,
) -> Translation | PageFault:
    """Translate ``va``; ``root`` is the physical address of the PML4 (or PML5) table.

    Accessed bits of non-leaf entries are set as they are used (as QEMU does, also when the
    walk later faults); the leaf's A and D are set only when the access is permitted. With
    ``context.qemu_5_0`` a 1 GiB leaf gets its A bit before its permission and large-page
    reserved-bit checks, as QEMU 5.0 does. With ``probe`` nothing is written.
    """
    levels = mode.levels
    top = va >> _CANONICAL_SHIFT[levels]
    if top and top != _TOP_ONES[levels]:
        return PageFault(GP_VECTOR, va, access, 0, "non-canonical address")
    reserved = _ADDRESS & ~((1 << context.max_phys_bits) - 1)
    if not context.nxe:
        reserved |= _NX
    nxe = context.nxe
    read = u64_reader(memory)
    level = levels - 1
    table = root
    every = -1  # AND of the entries: R/W and U/S must be set at every level
    some = 0  # OR of the entries: XD set at any level
    pte_addresses: list[int] = []
    while True:
        entry_address = table + ((va >> (12 + 9 * level)) & 0x1FF) * 8
        try:
            entry = read(entry_address)
        except MemoryAccessError:
            return _fault(va, access, context, 0, "paging entry outside memory")
        pte_addresses.append(entry_address)
        if not entry & _P:
            return _fault(va, access, context, 0, f"not present at level {level}")
        every &= entry
        some |= entry
        large = entry & _PS != 0 and 0 < level < 3
        rsvd = reserved
        if level >= 3:
            rsvd |= _PS
        elif large:
            rsvd |= ((1 << (12 + 9 * level)) - 1) & _ADDRESS & ~_PAT_LARGE
        if large and level == 2 and context.qemu_5_0 and not entry & rsvd & ~_LARGE_RSVD:
            entry = _set_accessed(memory, entry_address, entry, probe)
        if entry & rsvd:
            return _fault(va, access, context, PF_P | PF_RSVD, f"reserved bit at level {level}")
        if level == 0 or large:
            break
        if not entry & _A:
            entry = _set_accessed(memory, entry_address, entry, probe)
        table = entry & _ADDRESS
        level -= 1
    key = (X86_KEY_W if every & _RW else 0) | (X86_KEY_U if every & _US else 0)
    key |= X86_KEY_NX if nxe and some & _NX else 0
    rights = context.rights_table[key]
    if not rights >> access & 1:
        return _fault(va, access, context, PF_P, f"{access.name.lower()} not permitted")
    updated = entry | _A | (_D if access == Access.STORE else 0)
    if updated != entry and not probe:
        memory.write(entry_address, 8, updated)
    if updated & _D:
        key |= X86_KEY_D
    shift = 12 + 9 * level
    physical = (updated & _ADDRESS & -(1 << shift)) | (va & ((1 << shift) - 1))
    return _new_translation(
        Translation,
        (physical, 1 << shift, key, rights, updated & _G != 0, tuple(pte_addresses), updated),
    )


def _set_accessed(memory: PhysicalMemory, address: int, entry: int, probe: bool) -> int:
    if not entry & _A and not probe:
        memory.write(address, 8, entry | _A)
    return entry | _A


def _fault(va: int, access: Access, context: X86Context, bits: int, reason: str) -> PageFault:
    code = bits
    if access == Access.STORE:
        code |= PF_W
    if context.cpl == 3:
        code |= PF_U
    if access == Access.FETCH and (context.nxe or context.smep):
        code |= PF_I
    return PageFault(PF_VECTOR, va, access, code, reason)
