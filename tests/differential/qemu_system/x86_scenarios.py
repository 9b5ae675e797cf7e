"""Hypothesis strategies for the QEMU system oracle: page tables (valid and broken) as plain
data, the accesses made through them, and turning both into probe cases.

A scenario is a handful of leaves (4 KiB, 2 MiB and 1 GiB pages; with NX, reserved bits
above MAXPHYADDR, misaligned large-page addresses, bits the CPU ignores), then a few bit
flips in the entries above them (P, R/W, U/S, PS, NX, A, a reserved bit), then accesses at
CPL 0 or 3 under every combination of CR0.WP, CR4.SMEP/SMAP, EFER.NXE and RFLAGS.AC, aimed
mostly inside the mapped pages and sometimes anywhere, including non-canonical addresses.
Top-level slots 0 and 1 are the probe's (see x86_address_space), so leaves avoid them.
"""

from __future__ import annotations

from attrs import frozen
from hypothesis import strategies as st

from tests.differential.mmu.targets import X86_CONTEXTS
from tests.differential.qemu_system.x86_address_space import (
    ADDRESS_MASK,
    PS,
    RW,
    US,
    A,
    P,
    ProbeAddressSpaces,
    in_pattern,
    in_tables,
)
from tests.differential.qemu_system.x86_batch import ProbeCase, plan_case
from tests.differential.qemu_system.x86_layout import PATTERN_END, PATTERN_PA
from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import Access, PageTableBuilder, PagingMode, X86Context

NX = 1 << 63
_TOP_INDEX = st.sampled_from([2, 3, 255, 256, 510, 511])
_INDEX = st.sampled_from([0, 1, 2, 255, 256, 511])
_LOW_FLAGS = st.tuples(st.integers(0, 0x1FF), st.integers(0, 7)).map(
    lambda pair: (pair[0] & ~PS) | (P if pair[1] else 0)  # present 7 times in 8
)
_HIGH_FLAGS = st.sampled_from(
    [0] * 10
    + [NX] * 4
    + [1 << 40, 1 << 45, 1 << 51]  # reserved: above MAXPHYADDR (40)
    + [1 << 52, 1 << 58, 1 << 59, 1 << 62]  # ignored (software bits, protection key)
)
_FLIP_BITS = st.sampled_from([P, RW, US, PS, NX, A, 1 << 45])
_BOUNDARY_VAS = st.sampled_from(
    [
        0x0000_7FFF_FFFF_F000,
        0x0000_8000_0000_0000,  # non-canonical with 4-level, canonical with LA57
        0x0001_0000_0000_0000,  # the probe's user slot with LA57
        0xFFFF_7FFF_FFFF_F000,
        0xFFFF_8000_0000_0000,
        0x00FF_FFFF_FFFF_F000,
        0x0100_0000_0000_0000,  # non-canonical with either
        0xFEFF_FFFF_FFFF_F000,
        0xFF00_0000_0000_0000,
        0xFFFF_FFFF_FFFF_F000,
        0x8000_0000_0000_0000,
    ]
)


@frozen
class LeafSpec:
    indices: tuple[int, ...]
    """Table index per level, top level first, down to the leaf's level."""
    level: int
    pa: int
    flags: int


@frozen
class FlipSpec:
    leaf: int
    level: int
    bit: int


@frozen
class AccessSpec:
    target: int
    relative: bool
    """``target`` is an offset into a leaf's page (leaf ``number % len(leaves)``)."""
    access: Access
    context: X86Context


@frozen
class ScenarioSpec:
    table_flags: int
    leaves: tuple[LeafSpec, ...]
    flips: tuple[FlipSpec, ...]
    accesses: tuple[AccessSpec, ...]


def _leaf_pa(draw: st.DrawFn, mode: PagingMode, level: int) -> int:
    shift = mode.page_shift_at(level)
    kind = draw(st.sampled_from(["pattern"] * 6 + ["anywhere", "misaligned"]))
    if level == 2:
        pa = draw(st.sampled_from([0, 0, 0, 1 << 30, 5 << 30]))
    elif kind == "anywhere":
        pa = draw(st.integers(0, (1 << (40 - shift)) - 1)) << shift
    else:
        pa = draw(st.integers(PATTERN_PA >> shift, (PATTERN_END >> shift) - 1)) << shift
    if kind == "misaligned" and level > 0:
        pa |= 1 << draw(st.integers(12, shift - 1))  # bit 12 is PAT: allowed
    return pa


def _va_bits(mode: PagingMode, indices: tuple[int, ...]) -> int:
    va = 0
    for position, index in enumerate(indices):
        va |= index << mode.page_shift_at(mode.levels - 1 - position)
    if va >> (mode.va_bits - 1):
        va |= (1 << 64) - (1 << mode.va_bits)
    return va


_TARGETS = st.one_of(
    st.tuples(st.integers(0, 0xFFF), st.just(True)),
    st.tuples(st.integers(0, 0xFFF), st.just(True)),
    st.tuples(st.integers(0, 0xFFF), st.just(True)),
    st.tuples(st.integers(0, 0x1F_FFFF), st.just(True)),
    st.tuples(st.integers(PATTERN_PA, PATTERN_PA + 0xF_FFFF), st.just(True)),
    st.tuples(st.integers(0, 2**64 - 1), st.just(False)),
    st.tuples(
        st.builds(lambda base, offset: base + offset, _BOUNDARY_VAS, st.integers(0, 0x1FFF)),
        st.just(False),
    ),
)


@st.composite
def scenario_specs(draw: st.DrawFn, mode: PagingMode) -> ScenarioSpec:
    table_flags = draw(st.sampled_from([P | RW | US] * 4 + [P | RW, P | US, P]))
    leaves: list[LeafSpec] = []
    for _ in range(draw(st.integers(1, 5))):
        level = draw(st.sampled_from([0, 0, 1, 1, 2]))
        indices = (draw(_TOP_INDEX), *tuple(draw(_INDEX) for _ in range(mode.levels - 1 - level)))
        flags = draw(_LOW_FLAGS) | draw(_HIGH_FLAGS)
        leaves.append(LeafSpec(indices, level, _leaf_pa(draw, mode, level), flags))
    flips = tuple(
        FlipSpec(
            draw(st.integers(0, len(leaves) - 1)),
            draw(st.integers(1, mode.levels - 1)),
            draw(_FLIP_BITS),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    accesses = tuple(
        AccessSpec(target, relative, draw(st.sampled_from(list(Access))), draw(X86_CONTEXTS))
        for target, relative in draw(st.lists(_TARGETS, min_size=1, max_size=6))
    )
    return ScenarioSpec(table_flags, tuple(leaves), flips, accesses)


def plan_scenario(
    spaces: ProbeAddressSpaces, spec: ScenarioSpec
) -> tuple[int, tuple[int, int], list[tuple[int, Access, X86Context]]]:
    """Build the scenario's tables; returns (root, its table range, the accesses to make)."""
    mode = spaces.mode
    builder = spaces.builder(spec.table_flags)
    mapped: list[tuple[int, int]] = []
    for leaf in spec.leaves:
        va = _va_bits(mode, leaf.indices)
        try:
            builder.map(va, leaf.pa, leaf.flags, leaf.level)
        except ValueError:
            continue
        mapped.append((va, mode.page_size_at(leaf.level)))
    for flip in spec.flips:
        if flip.leaf >= len(mapped):
            continue
        address = _entry_above(spaces.memory, builder, mapped[flip.leaf][0], flip.level)
        if address is not None and _flip_allowed(spaces.memory, address, flip):
            spaces.memory.write(address, 8, spaces.memory.read(address, 8) ^ flip.bit)
    spaces.close(builder)
    accesses: list[tuple[int, Access, X86Context]] = []
    for number, item in enumerate(spec.accesses):
        if item.relative and mapped:
            base, size = mapped[number % len(mapped)]
            va = (base + item.target % size) % 2**64
        else:
            va = item.target % 2**64
        va &= ~15 if item.access is Access.FETCH else ~7
        accesses.append((va, item.access, item.context))
    return builder.root, (builder.root, builder.next_table), accesses


def _entry_above(memory: GuestMemory, builder: PageTableBuilder, va: int, level: int) -> int | None:
    """The address of the entry for ``va`` at ``level``, if the path to it is intact."""
    mode = builder.mode
    table = builder.root
    for current in range(mode.levels - 1, level, -1):
        entry = memory.read(table + mode.index(va, current) * 8, 8)
        if not entry & P or (current < 3 and entry & PS):
            return None
        table = entry & ADDRESS_MASK
        if not in_tables(table, 4096):
            return None
    return table + mode.index(va, level) * 8


def _flip_allowed(memory: GuestMemory, address: int, flip: FlipSpec) -> bool:
    """Clearing PS turns a large page into a table pointer: only where both sides read the
    same words (the pattern region, or no memory at all above 4 GiB)."""
    if flip.bit != PS or flip.level not in (1, 2):
        return True
    entry = memory.read(address, 8)
    if not entry & PS:
        return True
    table = entry & ADDRESS_MASK
    return in_pattern(table, 4096) or table >= 1 << 32


def build_batch(
    spaces: ProbeAddressSpaces, specs: list[ScenarioSpec]
) -> tuple[bytes, list[tuple[int, ProbeCase]]]:
    """Every scenario's tables (the bytes QEMU loads, taken before any walk sets A/D bits),
    then the cases, planned in order on the model, each with its scenario's number."""
    planned = [plan_scenario(spaces, spec) for spec in specs]
    tables = spaces.table_bytes()
    cases: list[tuple[int, ProbeCase]] = []
    for number, (root, table_range, accesses) in enumerate(planned):
        for va, access, context in accesses:
            case = plan_case(
                spaces.mode, spaces.memory, root, table_range, va, access, context, len(cases)
            )
            if case is not None:
                cases.append((number, case))
    return tables, cases
