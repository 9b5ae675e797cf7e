"""Permission rules, shared by the walkers and by TLB hits so both always agree.

Each rule maps a small permission key (RISC-V: the PTE's low byte V R W X U G A D;
x86-64: accumulated W, U, NX plus the leaf's D) and a context to a rights mask (bits of
:class:`~vmcore_domain_services.mmu.access.Access`). The tables are precomputed per context
so that a TLB hit re-checks permissions with one list index.
"""

from __future__ import annotations

from functools import cache

from vmcore_domain_services.mmu.access import (
    ALL_RIGHTS,
    RIGHT_R,
    RIGHT_W,
    RIGHT_X,
    Privilege,
    RiscvContext,
    X86Context,
)

# RISC-V PTE bits
PTE_V = 1 << 0
PTE_R = 1 << 1
PTE_W = 1 << 2
PTE_X = 1 << 3
PTE_U = 1 << 4
PTE_G = 1 << 5
PTE_A = 1 << 6
PTE_D = 1 << 7

# x86-64 permission key bits (accumulated over all levels of the walk)
X86_KEY_W = 1 << 0
X86_KEY_U = 1 << 1
X86_KEY_NX = 1 << 2
X86_KEY_D = 1 << 3


def riscv_rights(flags: int, privilege: int, sum_: bool, mxr: bool) -> int:
    """Rights a RISC-V leaf PTE with these low-byte ``flags`` grants (privileged spec
    4.3.1 step 5), ignoring the A and D bits."""
    if privilege == Privilege.MACHINE:
        return ALL_RIGHTS
    user_page = bool(flags & PTE_U)
    if privilege == Privilege.USER and not user_page:
        return 0
    if privilege == Privilege.SUPERVISOR and user_page and not sum_:
        return 0
    rights = 0
    if flags & PTE_R or (mxr and flags & PTE_X):
        rights |= RIGHT_R
    if flags & PTE_W:
        rights |= RIGHT_W
    if flags & PTE_X and not (privilege == Privilege.SUPERVISOR and user_page):
        rights |= RIGHT_X
    return rights


def x86_rights(key: int, user: bool, wp: bool, smep: bool, smap_active: bool) -> int:
    """Rights an x86-64 translation with accumulated ``key`` grants (SDM vol. 3, 4.6),
    ignoring the D bit. ``smap_active`` is CR4.SMAP and not EFLAGS.AC."""
    writable = bool(key & X86_KEY_W)
    user_page = bool(key & X86_KEY_U)
    executable = not key & X86_KEY_NX
    if user:
        if not user_page:
            return 0
        return RIGHT_R | (RIGHT_W if writable else 0) | (RIGHT_X if executable else 0)
    rights = 0
    if not (user_page and smap_active):
        rights |= RIGHT_R
        if writable or not wp:
            rights |= RIGHT_W
    if executable and not (user_page and smep):
        rights |= RIGHT_X
    return rights


@cache
def riscv_rights_table(key: tuple[int, bool, bool]) -> tuple[int, ...]:
    """``table[pte & 0xFF]`` = rights for a walk under a context with this rights key."""
    return tuple(riscv_rights(flags, *key) for flags in range(256))


@cache
def x86_rights_table(key: tuple[bool, bool, bool, bool]) -> tuple[int, ...]:
    return tuple(x86_rights(flags, *key) for flags in range(16))


@cache
def riscv_tlb_table(key: tuple[int, bool, bool]) -> tuple[int, ...]:
    """Rights a cached RISC-V entry may grant without a walk: none if A is clear, no store
    if D is clear (the walk must set the bit or fault)."""
    rights = riscv_rights_table(key)
    return tuple(_hit_rights(rights[flags], flags & PTE_A, flags & PTE_D) for flags in range(256))


@cache
def x86_tlb_table(key: tuple[bool, bool, bool, bool]) -> tuple[int, ...]:
    rights = x86_rights_table(key)
    return tuple(_hit_rights(rights[flags], 1, flags & X86_KEY_D) for flags in range(16))


def tlb_table_for(context: RiscvContext | X86Context) -> tuple[int, ...]:
    """The permission table a TLB hit is checked with under ``context``."""
    if isinstance(context, RiscvContext):
        return riscv_tlb_table(context.rights_key)
    return x86_tlb_table(context.rights_key)


def _hit_rights(rights: int, accessed: int, dirty: int) -> int:
    if not accessed:
        return 0
    return rights if dirty else rights & ~RIGHT_W
