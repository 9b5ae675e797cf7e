"""The x86-64 4-level and 5-level (LA57) walk, as the SDM (vol. 3, chapter 4.5-4.7).

:func:`spec_walk_x86` is the SDM's algorithm (its loop is :func:`_walk_from`).
:func:`walk_x86` runs the same walk specialised for ``GuestMemory`` (:func:`_fast_walk`):
levels unrolled, entries read straight from ``GuestMemory.word_pages``, and the common case
(present entries with A set down to a 4 KiB page that permits the access and needs no A/D
update) inline. At the first entry that is anything else (not present, reserved bits, A to
set, a large page, a leaf that faults or needs A/D) it hands over to :func:`_walk_from` at
that very level, so faults, large pages and A/D updates are decided by the SDM's code
alone. The fast walk never touches MMIO: a table outside allocated RAM makes it give up
(before any write) and the spec walk starts over.
"""

from __future__ import annotations

from vmcore_domain_services.memory import GuestMemory, MemoryAccessError
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
_STORE, _FETCH = Access.STORE, Access.FETCH  # module constants: enum attribute loads are slow
# Address bits at and above MAXPHYADDR (reserved in every entry), by MAXPHYADDR.
_RESERVED_ABOVE = {bits: _ADDRESS & ~((1 << bits) - 1) for bits in range(65)}


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
    if type(memory) is GuestMemory:
        result = _fast_walk(mode.levels, root, va, access, context, memory, probe)
        if result is not None:
            return result
    return spec_walk_x86(mode, root, va, access, context, memory, probe)


def _fast_walk(
    levels: int,
    root: int,
    va: int,
    access: Access,
    context: X86Context,
    memory: GuestMemory,
    probe: bool,
) -> Translation | PageFault | None:
    """The SDM's walk specialised for ``GuestMemory``; None leaves the whole walk to
    :func:`spec_walk_x86` (a non-canonical address, an unaligned root, an unusual
    MAXPHYADDR, a table page not in ``word_pages``: unwritten RAM, MMIO or no memory).

    Specialised: the four levels both modes share (PML4, PDPT, PD, PT) are unrolled, after
    LA57's PML5. The first entry that is not a present, A-set, non-large pointer without
    reserved bits (or a 4 KiB leaf not ready for the access) is read again by the SDM's
    loop, :func:`_walk_from`, which continues the walk from there.
    """
    top = va >> _CANONICAL_SHIFT[levels]
    if (top and top != _TOP_ONES[levels]) or root & 0xFFF:
        return None
    reserved = _RESERVED_ABOVE.get(context.max_phys_bits)
    if reserved is None:
        return None
    nxe = context.nxe
    if not nxe:
        reserved |= _NX
    # A non-leaf entry the walk reads and leaves alone: P and A set, PS clear (PS makes a
    # large page at the PDPT and PD, and is reserved above), no reserved bit.
    pointer_mask = reserved | _P | _A | _PS
    pages = memory.word_pages
    table = root >> 12  # page number of the table being read
    upper: tuple[int, ...] = ()  # the PML5 entry's address with LA57
    every = -1  # AND of the entries: R/W and U/S must be set at every level
    some = 0  # OR of the entries: XD set at any level
    handed_over = False  # once True, a KeyError is the spec walk's own (an MMIO callback's)
    try:  # a KeyError: a table page not in word_pages
        if levels == 5:
            index = (va >> 48) & 0x1FF
            entry = pages[table][index]
            if entry & pointer_mask != _P | _A:
                handed_over = True
                return _walk_from(4, table << 12, -1, 0, (), va, access, context, memory, probe)
            upper = ((table << 12) + index * 8,)
            every = some = entry
            table = (entry & _ADDRESS) >> 12
        index3 = (va >> 39) & 0x1FF
        entry3 = pages[table][index3]
        if entry3 & pointer_mask != _P | _A:
            handed_over = True
            return _walk_from(
                3, table << 12, every, some, upper, va, access, context, memory, probe
            )
        address3 = (table << 12) + index3 * 8
        table2 = (entry3 & _ADDRESS) >> 12
        index2 = (va >> 30) & 0x1FF
        entry2 = pages[table2][index2]
        every &= entry3
        some |= entry3
        if entry2 & pointer_mask != _P | _A:
            done: tuple[int, ...] = (*upper, address3)
            handed_over = True
            return _walk_from(
                2, table2 << 12, every, some, done, va, access, context, memory, probe
            )
        address2 = (table2 << 12) + index2 * 8
        table1 = (entry2 & _ADDRESS) >> 12
        index1 = (va >> 21) & 0x1FF
        entry1 = pages[table1][index1]
        every &= entry2
        some |= entry2
        if entry1 & pointer_mask != _P | _A:
            done = (*upper, address3, address2)
            handed_over = True
            return _walk_from(
                1, table1 << 12, every, some, done, va, access, context, memory, probe
            )
        address1 = (table1 << 12) + index1 * 8
        table0 = (entry1 & _ADDRESS) >> 12
        index0 = (va >> 12) & 0x1FF
        entry = pages[table0][index0]
    except KeyError:
        if handed_over:
            raise
        return None
    every &= entry1
    some |= entry1
    needed = _P | _A | _D if access == _STORE else _P | _A
    if entry & (reserved | needed) == needed:
        key = (X86_KEY_W if every & entry & _RW else 0) | (X86_KEY_U if every & entry & _US else 0)
        key |= X86_KEY_NX if nxe and (some | entry) & _NX else 0
        rights = context.rights_table[key]
        if rights >> access & 1:
            # Concatenation, not (*upper, ...): the star form builds a list first, 2-3x slower.
            addresses = upper + (  # noqa: RUF005
                address3,
                address2,
                address1,
                (table0 << 12) + index0 * 8,
            )
            return _new_translation(
                Translation,
                (
                    (entry & _ADDRESS) | (va & 0xFFF),
                    4096,
                    (key | X86_KEY_D) if entry & _D else key,
                    rights,
                    entry & _G != 0,
                    addresses,
                    entry,
                ),
            )
    done = (*upper, address3, address2, address1)
    return _walk_from(0, table0 << 12, every, some, done, va, access, context, memory, probe)


def spec_walk_x86(
    mode: PagingMode,
    root: int,
    va: int,
    access: Access,
    context: X86Context,
    memory: PhysicalMemory,
    probe: bool = False,
) -> Translation | PageFault:
    """:func:`walk_x86` without the fast path: the SDM's algorithm (vol. 3, 4.5-4.7)."""
    levels = mode.levels
    top = va >> _CANONICAL_SHIFT[levels]
    if top and top != _TOP_ONES[levels]:
        return PageFault(GP_VECTOR, va, access, 0, "non-canonical address")
    return _walk_from(levels - 1, root, -1, 0, (), va, access, context, memory, probe)


def _walk_from(
    level: int,
    table: int,
    every: int,
    some: int,
    done: tuple[int, ...],
    va: int,
    access: Access,
    context: X86Context,
    memory: PhysicalMemory,
    probe: bool,
) -> Translation | PageFault:
    """The SDM's walk from the entry at ``level`` of the table at physical ``table``;
    ``every``/``some`` are the AND/OR of the entries above it (addresses in ``done``),
    all present, not large, with no reserved bit and A set."""
    reserved = _ADDRESS & ~((1 << context.max_phys_bits) - 1)
    if not context.nxe:
        reserved |= _NX
    nxe = context.nxe
    read = u64_reader(memory)
    pte_addresses = list(done)
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
    updated = entry | _A | (_D if access == _STORE else 0)
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
    if access == _STORE:
        code |= PF_W
    if context.cpl == 3:
        code |= PF_U
    if access == _FETCH and (context.nxe or context.smep):
        code |= PF_I
    return PageFault(PF_VECTOR, va, access, code, reason)
