"""Hand-picked scenarios that every run covers, whatever hypothesis draws: each kind of
leaf and broken entry, accessed three ways under all 64 CPL/WP/SMEP/SMAP/NXE/AC contexts."""

from __future__ import annotations

import itertools

from tests.differential.qemu_system.x86_address_space import PS, RW, US, A, D, P
from tests.differential.qemu_system.x86_layout import PATTERN_PA
from tests.differential.qemu_system.x86_scenarios import (
    NX,
    AccessSpec,
    FlipSpec,
    LeafSpec,
    ScenarioSpec,
)
from vmcore_domain_services.mmu import Access, PagingMode, X86Context

ALL_CONTEXTS = tuple(
    X86Context(cpl=cpl, wp=wp, smep=smep, smap=smap, nxe=nxe, ac=ac)
    for cpl, wp, smep, smap, nxe, ac in itertools.product(
        (0, 3), (False, True), (False, True), (False, True), (False, True), (False, True)
    )
)
PAGE_4K = PATTERN_PA + 0x12_3000
PAGE_2M = PATTERN_PA + 0x40_0000
NON_CANONICAL_VAS = (
    0x0000_8000_0000_0000,  # canonical only with LA57
    0xFF00_0000_0000_1000,  # canonical only with LA57
    0x0100_0000_0000_0000,  # non-canonical with either
    0x8000_0000_0000_0000,
    0xFEFF_FFFF_FFFF_F000,
)


def _indices(mode: PagingMode, level: int, top: int = 2) -> tuple[int, ...]:
    return (top, *tuple(5 for _ in range(mode.levels - 1 - level)))


def _accesses(targets: tuple[int, ...], relative: bool) -> tuple[AccessSpec, ...]:
    return tuple(
        AccessSpec(target, relative, access, context)
        for target in targets
        for access in Access
        for context in ALL_CONTEXTS
    )


def _leaf(
    mode: PagingMode,
    level: int,
    pa: int,
    flags: int,
    targets: tuple[int, ...] = (0x848,),
    table_flags: int = P | RW | US,
    flips: tuple[FlipSpec, ...] = (),
) -> ScenarioSpec:
    leaf = LeafSpec(_indices(mode, level), level, pa, flags)
    return ScenarioSpec(table_flags, (leaf,), flips, _accesses(targets, True))


def edge_scenarios(mode: PagingMode) -> list[ScenarioSpec]:
    top = mode.levels - 1
    in_1g = (PATTERN_PA + 0x2_0848,)
    return [
        _leaf(mode, 0, PAGE_4K, P | RW | US),  # user, writable: SMAP/AC, SMEP
        _leaf(mode, 0, PAGE_4K, P | US | A | D),  # user read-only: WP does not matter
        _leaf(mode, 0, PAGE_4K, P),  # supervisor read-only: WP
        _leaf(mode, 0, PAGE_4K, P | RW | US | NX),  # NX: reserved unless EFER.NXE
        _leaf(mode, 0, PAGE_4K, P | RW | US | (1 << 52) | (1 << 59)),  # ignored bits
        _leaf(mode, 0, PAGE_4K, P | RW | US | (1 << 45)),  # above MAXPHYADDR
        _leaf(mode, 0, PAGE_4K, P | RW | US, table_flags=P | RW),  # U/S clear above
        _leaf(mode, 0, PAGE_4K, P | RW | US, table_flags=P | US),  # R/W clear above
        _leaf(mode, 1, PAGE_2M, P | RW | US),  # 2 MiB
        _leaf(mode, 1, PAGE_2M | (1 << 13), P | RW | US),  # misaligned 2 MiB
        _leaf(mode, 1, PAGE_2M | (1 << 12), P | RW | US),  # PAT bit of a 2 MiB page
        _leaf(mode, 2, 0, P | RW | US, in_1g),  # 1 GiB
        _leaf(mode, 2, 0, P | RW, in_1g),  # 1 GiB supervisor
        _leaf(mode, 2, 1 << 21, P | RW | US, in_1g),  # misaligned 1 GiB
        _leaf(mode, 0, PAGE_4K, P | RW | US, flips=(FlipSpec(0, top, PS),)),  # PS at the top
        _leaf(mode, 0, PAGE_4K, P | RW | US, flips=(FlipSpec(0, 3, PS),)),  # PS in PML4
        _leaf(mode, 0, PAGE_4K, P | RW | US, flips=(FlipSpec(0, 1, NX),)),  # NX above
        _leaf(mode, 0, PAGE_4K, P | RW | US, flips=(FlipSpec(0, top, 1 << 45),)),
        _leaf(mode, 0, PAGE_4K, P | RW | US, flips=(FlipSpec(0, 2, P),)),  # not present
        ScenarioSpec(P | RW | US, (), (), _accesses(NON_CANONICAL_VAS, False)),
    ]
