"""Generated RISC-V page tables (Sv57, Sv48, Sv39) and the accesses made through them.

A *scenario* is one set of page tables (one satp) and a few accesses; a *batch* is many
scenarios laid out in one physical memory for one QEMU boot. Strategies draw plain specs;
``build_batch`` writes them into memory with ``PageTableBuilder``.

Leaves land at every level (512 GiB and 256 TiB superpages included), often misaligned;
their targets are mostly inside the modelled RAM (so a load proves the physical address),
sometimes in the unassigned hole or anywhere. Then some entries on a mapped path are
broken: flag bits flipped (V=0, W without R, leaves where pointers were, U/A/D on
pointers), a reserved bit 63:54 set, or a pointer redirected to a data page, the hole or
memory S-mode may not read.
"""

from __future__ import annotations

from attrs import frozen
from hypothesis import strategies as st

from tests.differential.mmu.targets import ACCESS_TARGETS
from tests.differential.qemu_system.riscv_probe_io import (
    HOLE_BASE,
    HOLE_SIZE,
    MODEL_BASE,
    MODEL_SIZE,
    RAM_BASE,
    TABLES_LIMIT,
    pattern_bytes,
)
from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import (
    SV39,
    SV48,
    SV57,
    Access,
    PageTableBuilder,
    PagingMode,
    Privilege,
)

FLIP_FLAGS, SET_RESERVED, REDIRECT = "flip flags", "set reserved bit", "redirect pointer"


@frozen
class MappingSpec:
    va: int
    pa: int
    flags: int
    level: int


@frozen
class CorruptionSpec:
    """Break the entry at ``level`` on the path of mapping ``mapping``."""

    mapping: int
    level: int
    kind: str
    value: int


@frozen
class AccessSpec:
    """An access near mapped va number ``mapping`` (or at ``offset`` itself if ``raw``),
    with bit ``flip`` (if any) toggled to make it non-canonical."""

    mapping: int
    offset: int
    raw: bool
    flip: int | None
    access: Access
    privilege: Privilege
    sum: bool
    mxr: bool


@frozen
class ScenarioSpec:
    mode: PagingMode
    mappings: tuple[MappingSpec, ...]
    corruptions: tuple[CorruptionSpec, ...]
    accesses: tuple[AccessSpec, ...]


@frozen
class Scenario:
    """A scenario written into memory: its root, its tables' span and its mapped vas."""

    spec: ScenarioSpec
    root: int
    table_end: int
    mapped_vas: tuple[int, ...]

    @property
    def table_bytes(self) -> int:
        return self.table_end - self.root


_INDEX = st.sampled_from([0, 1, 2, 255, 256, 511])
_VALID_LEAF = st.builds(
    lambda rwx, others: 1 | rwx | (others & 0xF0),
    st.sampled_from([0x2, 0x6, 0x8, 0xA, 0xE, 0xE, 0xE]),  # R, RW, X, RX, RWX
    st.integers(0, 255),
)
_ANY_FLAGS = st.integers(0, 255)
_FLAGS = st.one_of(_VALID_LEAF, _VALID_LEAF, _ANY_FLAGS.map(lambda flags: flags | 1), _ANY_FLAGS)
_DATA_BASE = TABLES_LIMIT
_MODEL_END = MODEL_BASE + MODEL_SIZE


def _target_pa() -> st.SearchStrategy[int]:
    """Where a leaf should send an access (before alignment to the page size)."""
    data = st.integers(_DATA_BASE, _MODEL_END - 1)
    return st.one_of(
        data,
        data,
        data,
        data,
        data,
        st.integers(MODEL_BASE, _MODEL_END - 1),
        st.integers(HOLE_BASE, HOLE_BASE + HOLE_SIZE - 1),
        st.integers(RAM_BASE, MODEL_BASE - 1),  # the probe: S and U may not touch it
        st.integers(0, (1 << 56) - 1),
    )


@st.composite
def _mapping(draw: st.DrawFn, mode: PagingMode) -> MappingSpec:
    level = draw(st.sampled_from(mode.leaf_levels))
    shift = mode.page_shift_at(level)
    target = draw(_target_pa())
    base = target >> shift << shift
    if level and draw(st.integers(0, 5)) == 0:  # a misaligned superpage
        base |= draw(st.integers(1, (1 << (shift - 12)) - 1)) << 12
    va = target & ((1 << shift) - 1) & ~0xFFF  # so that va + small offsets reach target
    for current in range(level, mode.levels):
        va |= draw(_INDEX) << mode.page_shift_at(current)
    if va >> (mode.va_bits - 1):
        va |= -(1 << mode.va_bits) & (2**64 - 1)
    return MappingSpec(va, base, draw(_FLAGS), level)


@st.composite
def _corruption(draw: st.DrawFn, mode: PagingMode, mappings: int) -> CorruptionSpec:
    mapping = draw(st.integers(0, mappings - 1))
    level = draw(st.integers(0, mode.levels - 1))
    kind = draw(st.sampled_from([FLIP_FLAGS, FLIP_FLAGS, SET_RESERVED, REDIRECT]))
    if kind == FLIP_FLAGS:
        value = draw(st.integers(1, 255))
    elif kind == SET_RESERVED:
        value = draw(st.integers(54, 63))
    else:
        value = draw(
            st.one_of(
                st.integers(MODEL_BASE, _MODEL_END - 1),
                st.integers(HOLE_BASE, HOLE_BASE + HOLE_SIZE - 1),
                st.integers(RAM_BASE, MODEL_BASE - 1),
            )
        )
    return CorruptionSpec(mapping, level, kind, value & ~0xFFF)


@st.composite
def _access(draw: st.DrawFn, mode: PagingMode) -> AccessSpec:
    offset, raw = draw(ACCESS_TARGETS)
    flip = draw(st.integers(mode.va_bits - 1, 63)) if draw(st.integers(0, 12)) == 0 else None
    return AccessSpec(
        draw(st.integers(0, 7)),
        offset,
        raw,
        flip,
        draw(st.sampled_from(list(Access))),
        draw(st.sampled_from([Privilege.USER, Privilege.SUPERVISOR])),
        draw(st.booleans()),
        draw(st.booleans()),
    )


@st.composite
def scenario_specs(draw: st.DrawFn, modes: tuple[PagingMode, ...]) -> ScenarioSpec:
    mode = draw(st.sampled_from(modes))
    mappings = draw(st.lists(_mapping(mode), min_size=1, max_size=6))
    corruptions = draw(st.lists(_corruption(mode, len(mappings)), max_size=3))
    accesses = draw(st.lists(_access(mode), min_size=1, max_size=8))
    return ScenarioSpec(mode, tuple(mappings), tuple(corruptions), tuple(accesses))


def batches(
    modes: tuple[PagingMode, ...] = (SV57, SV57, SV57, SV48, SV39), max_size: int = 40
) -> st.SearchStrategy[list[ScenarioSpec]]:
    """Many scenarios for one QEMU boot."""
    return st.lists(scenario_specs(modes), min_size=1, max_size=max_size)


_PATTERN_CACHE: dict[tuple[int, int], bytes] = {}


def fresh_model_memory() -> GuestMemory:
    """The modelled RAM before any table is written: every word holds its pattern."""
    key = (MODEL_BASE, MODEL_SIZE)
    if key not in _PATTERN_CACHE:
        _PATTERN_CACHE[key] = pattern_bytes(MODEL_BASE, MODEL_SIZE)
    memory = GuestMemory(MODEL_SIZE, MODEL_BASE)
    memory.write_bytes(MODEL_BASE, _PATTERN_CACHE[key])
    return memory


def build_batch(specs: list[ScenarioSpec], memory: GuestMemory) -> list[Scenario]:
    """Write every scenario's tables into ``memory``, one after the other."""
    scenarios: list[Scenario] = []
    next_table = MODEL_BASE
    for spec in specs:
        builder = PageTableBuilder(spec.mode, memory, next_table)
        mapped: list[int] = []
        for mapping in spec.mappings:
            try:
                builder.map(mapping.va, mapping.pa, mapping.flags, mapping.level)
            except ValueError:
                continue
            mapped.append(mapping.va)
        for corruption in spec.corruptions:
            if mapped:
                _corrupt(builder, memory, mapped[corruption.mapping % len(mapped)], corruption)
        if builder.next_table > TABLES_LIMIT:
            raise ValueError("too many page tables for one batch")
        scenarios.append(Scenario(spec, builder.root, builder.next_table, tuple(mapped)))
        next_table = builder.next_table
    return scenarios


def _corrupt(
    builder: PageTableBuilder, memory: GuestMemory, va: int, corruption: CorruptionSpec
) -> None:
    address = _entry_on_path(builder, memory, va, corruption.level)
    if address is None:
        return
    entry = memory.read(address, 8)
    if corruption.kind == FLIP_FLAGS:
        entry ^= corruption.value
    elif corruption.kind == SET_RESERVED:
        entry |= 1 << corruption.value
    elif entry & 0xE == 0:  # only pointers are redirected
        entry = (entry & 0x3FF) | ((corruption.value >> 12) << 10)
    memory.write(address, 8, entry)


def _entry_on_path(
    builder: PageTableBuilder, memory: GuestMemory, va: int, level: int
) -> int | None:
    """The entry for ``va`` at ``level`` if the walk from the root gets there through valid
    pointers inside ``memory``; else None."""
    mode = builder.mode
    table = builder.root
    for current in range(mode.levels - 1, level, -1):
        entry = memory.read(table + mode.index(va, current) * 8, 8)
        if entry & 0xF != 0x1 or entry >> 54:
            return None
        table = (entry >> 10) << 12
        if not memory.in_ram(table, 4096):
            return None
    return table + mode.index(va, level) * 8


def _edge_accesses(
    *privileges_sum_mxr: tuple[Access, Privilege, bool, bool],
) -> tuple[AccessSpec, ...]:
    return tuple(
        AccessSpec(0, 0x128, False, None, access, privilege, sum_, mxr)
        for access, privilege, sum_, mxr in privileges_sum_mxr
    )


_S, _U, _L, _ST, _F = Privilege.SUPERVISOR, Privilege.USER, Access.LOAD, Access.STORE, Access.FETCH
_EVERY_WAY = _edge_accesses(
    (_L, _S, False, False),
    (_ST, _S, False, False),
    (_F, _S, False, False),
    (_L, _U, False, False),
    (_L, _S, True, False),
    (_L, _S, False, True),
    (_F, _U, False, False),
    (_ST, _U, True, True),
)
_V, _R, _W, _X, _U_BIT, _A, _D = 0x1, 0x2, 0x4, 0x8, 0x10, 0x40, 0x80
_DATA_PAGE = _DATA_BASE + 0x1000


def _edge(
    level: int, flags: int, pa: int = 0, corruption: CorruptionSpec | None = None
) -> ScenarioSpec:
    """An Sv57 leaf at ``level`` (index 2 at every level above it) reaching ``_DATA_PAGE``
    when ``pa`` is 0 and the leaf is aligned, accessed every way."""
    shift = SV57.page_shift_at(level)
    va = _DATA_PAGE & ((1 << shift) - 1)
    for current in range(level, SV57.levels):
        va |= 2 << SV57.page_shift_at(current)
    base = pa or (_DATA_PAGE >> shift << shift)
    corruptions = () if corruption is None else (corruption,)
    return ScenarioSpec(SV57, (MappingSpec(va, base, flags, level),), corruptions, _EVERY_WAY)


def sv57_edge_batch() -> list[ScenarioSpec]:
    """Hand-picked Sv57 scenarios that every run checks, before the generated ones."""
    rwx = _V | _R | _W | _X
    return [
        *(_edge(level, rwx | _A | _D) for level in range(5)),  # 4 KiB ... 256 TiB
        _edge(4, rwx, pa=1 << 12),  # a misaligned 256 TiB page
        _edge(3, rwx | _U_BIT),  # a user 512 GiB page, A and D clear
        _edge(0, _V | _X | _A),  # execute-only: loads need MXR
        _edge(0, _V | _W | _A | _D),  # W without R
        _edge(0, rwx | _A | _D, corruption=CorruptionSpec(0, 4, SET_RESERVED, 60)),
        _edge(0, rwx | _A | _D, corruption=CorruptionSpec(0, 0, SET_RESERVED, 54)),
        _edge(0, rwx | _A | _D, corruption=CorruptionSpec(0, 2, FLIP_FLAGS, _A)),
        _edge(0, rwx | _A | _D, corruption=CorruptionSpec(0, 3, FLIP_FLAGS, _U_BIT)),
        _edge(0, rwx | _A | _D, corruption=CorruptionSpec(0, 1, REDIRECT, HOLE_BASE)),
        _edge(0, rwx | _A | _D, corruption=CorruptionSpec(0, 1, REDIRECT, RAM_BASE)),
        ScenarioSpec(
            SV57,
            (MappingSpec(2 << 48, _DATA_PAGE, rwx | _A | _D, 0),),
            (),
            tuple(AccessSpec(0, 0, False, flip, _L, _S, False, False) for flip in (55, 56, 57, 63)),
        ),
    ]
