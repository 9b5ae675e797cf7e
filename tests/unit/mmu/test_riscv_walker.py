"""The RISC-V Sv39/Sv48/Sv57 walker, rule by rule (privileged spec 4.3.2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import (
    SV39,
    SV48,
    SV57,
    Access,
    AdPolicy,
    PageFault,
    PageTableBuilder,
    PagingMode,
    Privilege,
    RiscvContext,
    Translation,
    probe,
    walk,
    walk_batch,
)
from vmcore_domain_services.mmu.riscv_walker import spec_walk_riscv

RAM = 0x8000_0000
TABLES = RAM + 0x10_0000
V, R, W, X, U, G, A, D = (1 << bit for bit in range(8))
RWX_AD = V | R | W | X | A | D
S_CTX = RiscvContext(Privilege.SUPERVISOR)
U_CTX = RiscvContext(Privilege.USER)
LOAD, STORE, FETCH = Access.LOAD, Access.STORE, Access.FETCH


def _setup(mode: PagingMode = SV39) -> tuple[GuestMemory, PageTableBuilder]:
    memory = GuestMemory(4 << 20, RAM)
    return memory, PageTableBuilder(mode, memory, TABLES)


def _cause(result: Translation | PageFault) -> int | None:
    return result.cause if isinstance(result, PageFault) else None


@settings(max_examples=60)
@given(
    mode=st.sampled_from([SV39, SV48, SV57]),
    data=st.data(),
)
def test_mapping_then_walking_round_trips(mode: PagingMode, data: st.DataObject) -> None:
    level = data.draw(st.sampled_from(mode.leaf_levels))
    shift = mode.page_shift_at(level)
    half = 1 << (mode.va_bits - 1)
    va_page = data.draw(st.integers(0, (half >> shift) - 1)) << shift
    if data.draw(st.booleans()):
        va_page = (va_page | -half) & (2**64 - 1)
    pa_page = data.draw(st.integers(0, (1 << (56 - shift)) - 1)) << shift
    offset = data.draw(st.integers(0, (1 << shift) - 1))
    memory, builder = _setup(mode)
    builder.map(va_page, pa_page, RWX_AD, level)
    result = walk(mode, builder.root, va_page + offset, LOAD, S_CTX, memory)
    assert isinstance(result, Translation)
    expected = (pa_page + offset, 1 << shift, mode.levels - level)
    assert expected == (result.physical_address, result.page_size, len(result.pte_addresses))


@pytest.mark.parametrize(
    ("flags", "context", "access", "expected_cause"),
    [
        (V | R | A, S_CTX, LOAD, None),
        (V | R | A, S_CTX, STORE, 15),
        (V | R | A, S_CTX, FETCH, 12),
        (V | X | A, S_CTX, LOAD, 13),
        (V | X | A, RiscvContext(Privilege.SUPERVISOR, mxr=True), LOAD, None),
        (V | W | A | D, S_CTX, LOAD, 13),  # W without R is reserved
        (V | W | X | A | D, S_CTX, FETCH, 12),  # W+X without R is reserved
        (R | A, S_CTX, LOAD, 13),  # V clear
        (RWX_AD | U, S_CTX, LOAD, 13),  # S touching a U page without SUM
        (RWX_AD | U, RiscvContext(Privilege.SUPERVISOR, sum=True), STORE, None),
        (RWX_AD | U, RiscvContext(Privilege.SUPERVISOR, sum=True), FETCH, 12),  # never
        (RWX_AD, U_CTX, LOAD, 13),  # U touching an S page
        (RWX_AD | U, U_CTX, FETCH, None),
        (V | R | W, S_CTX, LOAD, 13),  # A clear under Svade
        (V | R | W | A, S_CTX, STORE, 15),  # D clear under Svade
        (V | R | W | A | (1 << 54), S_CTX, LOAD, 13),  # reserved bit 54
        (V | R | W | A | (1 << 63), S_CTX, LOAD, 13),  # N without Svnapot
        (V | R | W | A | (1 << 61), S_CTX, LOAD, 13),  # PBMT without Svpbmt
    ],
)
def test_leaf_rules(
    flags: int, context: RiscvContext, access: Access, expected_cause: int | None
) -> None:
    memory, builder = _setup()
    builder.map(0x4000_0000, RAM, flags)
    assert expected_cause == _cause(walk(SV39, builder.root, 0x4000_0123, access, context, memory))


def test_qemu_5_0_option_ignores_high_bits_and_folds_them_into_the_ppn() -> None:
    memory, builder = _setup()
    builder.map(0x4000_0000, RAM, V | R | A | (1 << 54))
    context = RiscvContext(Privilege.SUPERVISOR, qemu_5_0=True)
    result = walk(SV39, builder.root, 0x4000_0000, LOAD, context, memory)
    assert isinstance(result, Translation)
    expected = RAM | (1 << 56)
    assert expected == result.physical_address


@pytest.mark.parametrize("walker", [walk, spec_walk_riscv])
def test_qemu_5_0_option_truncates_a_ppn_with_bits_63_54_to_64_bits(walker: object) -> None:
    """QEMU 5.0 computes the address in a 64-bit hwaddr: PTE bits 63:54 folded into the PPN
    shift past bit 63 and are lost (issue 10, bug 1: the example QEMU gave)."""
    memory = GuestMemory(4 << 20, RAM)
    root = RAM
    memory.write(root + 1 * 8, 8, 0x8000_0000_2000_00CF)  # a gigapage leaf, bit 63 set
    context = RiscvContext(Privilege.SUPERVISOR, qemu_5_0=True)
    assert callable(walker)
    result = walker(SV39, root, 0x4000_1234, LOAD, context, memory)
    expected = 0x8000_1234
    assert expected == result.physical_address


@pytest.mark.parametrize("level", [0, 1])
def test_qemu_5_0_option_truncates_4k_and_megapage_leaves_and_pointers(level: int) -> None:
    memory, builder = _setup()
    builder.map(0x4000_0000, RAM + 0x2000 * (level == 0), V | R | A, level)
    leaf = builder.entry_address(0x4000_0000, level)
    memory.write(leaf, 8, memory.read(leaf, 8) | 0x3FF << 54)
    pointer = builder.entry_address(0x4000_0000, level + 1)
    memory.write(pointer, 8, memory.read(pointer, 8) | 0x200 << 54)  # bit 63
    context = RiscvContext(Privilege.SUPERVISOR, qemu_5_0=True)
    result = walk(SV39, builder.root, 0x4000_0010, LOAD, context, memory)
    # PTE bits 63:54 are PPN bits 53:44, PA bits 65:56: 63:56 stay, 65:64 are lost
    expected = (RAM + 0x2000 * (level == 0)) | 0xFF << 56 | 0x10
    assert isinstance(result, Translation)
    assert expected == result.physical_address
    assert 2**64 > result.physical_address


@pytest.mark.parametrize("level", [1, 2])
def test_misaligned_superpage_faults(level: int) -> None:
    memory, builder = _setup()
    builder.map(0x4000_0000, RAM + 0x1000, RWX_AD, level)
    expected = 13
    assert expected == _cause(walk(SV39, builder.root, 0x4000_0000, LOAD, S_CTX, memory))


@pytest.mark.parametrize(
    ("mode", "va"),
    [
        (SV39, 1 << 39),
        (SV39, 0x0000_0040_0000_0000),
        (SV48, 1 << 48),
        (SV57, 0x8000_0000_0000_0000),
    ],
)
def test_non_canonical_addresses_fault_without_reading_memory(mode: PagingMode, va: int) -> None:
    memory = GuestMemory(4096, RAM)
    result = walk(mode, 0, va, STORE, S_CTX, memory)
    expected = (15, va)
    assert expected == (_cause(result), result.address if isinstance(result, PageFault) else 0)


def test_a_non_leaf_at_level_zero_faults() -> None:
    memory, builder = _setup()
    builder.map(0x4000_0000, RAM, V)  # a pointer where a leaf must be
    expected = 13
    assert expected == _cause(walk(SV39, builder.root, 0x4000_0000, LOAD, S_CTX, memory))


@pytest.mark.parametrize("level", [2, 1])
@pytest.mark.parametrize("bit", [D, A, U])
def test_d_a_or_u_in_a_pointer_is_reserved_and_faults(level: int, bit: int) -> None:
    """Privileged spec 4.3.1: D, A and U of a non-leaf PTE are reserved for future use;
    4.3.2 step 3: a set reserved bit is a page fault. QEMU 5.0 ignored them."""
    memory, builder = _setup()
    builder.map(0x4000_0000, RAM, RWX_AD)
    pointer = builder.entry_address(0x4000_0000, level)
    memory.write(pointer, 8, memory.read(pointer, 8) | bit)
    qemu_5_0 = RiscvContext(Privilege.SUPERVISOR, qemu_5_0=True)
    spec = walk(SV39, builder.root, 0x4000_0000, LOAD, S_CTX, memory)
    expected = (13, f"D, A or U set in the pointer at level {level}", RAM)
    assert expected == (
        _cause(spec),
        spec.reason if isinstance(spec, PageFault) else "",
        walk(SV39, builder.root, 0x4000_0000, LOAD, qemu_5_0, memory).physical_address,
    )


def test_a_pte_outside_memory_is_an_access_fault() -> None:
    memory, builder = _setup()
    pointer = builder.entry_address(0x4000_0000, 2)
    memory.write(pointer, 8, ((0x1000_0000 >> 12) << 10) | V)
    for access, cause in ((FETCH, 1), (LOAD, 5), (STORE, 7)):
        assert cause == _cause(walk(SV39, builder.root, 0x4000_0000, access, S_CTX, memory))


def test_hardware_policy_sets_a_and_d_and_probe_writes_nothing() -> None:
    memory, builder = _setup()
    leaf = builder.map(0x4000_0000, RAM, V | R | W)
    context = RiscvContext(Privilege.SUPERVISOR, ad_policy=AdPolicy.HARDWARE)
    probed = probe(SV39, builder.root, 0x4000_0000, STORE, context, memory)
    assert isinstance(probed, Translation)
    expected_probe = (V | R | W | A | D, V | R | W)
    assert expected_probe == (probed.flags, memory.read(leaf, 8) & 0xFF)
    walk(SV39, builder.root, 0x4000_0000, LOAD, context, memory)
    after_load = memory.read(leaf, 8) & 0xFF
    walk(SV39, builder.root, 0x4000_0000, STORE, context, memory)
    after_store = memory.read(leaf, 8) & 0xFF
    expected = (V | R | W | A, V | R | W | A | D)
    assert expected == (after_load, after_store)


def test_machine_mode_is_bare() -> None:
    result = walk(SV39, 0, 0x1234_5678, FETCH, RiscvContext(Privilege.MACHINE), GuestMemory(4096))
    assert isinstance(result, Translation)
    expected = 0x1234_5678
    assert expected == result.physical_address


def test_walk_batch_equals_single_walks() -> None:
    memory, builder = _setup(SV48)
    builder.map(0x4000_0000, RAM, RWX_AD)
    builder.map(0x7F_FFE0_0000, RAM + 0x20_0000, RWX_AD, 1)
    vas = [0x4000_0008, 0x7F_FFE0_1234, 0x5000_0000, 1 << 60]
    expected = [walk(SV48, builder.root, va, LOAD, S_CTX, memory) for va in vas]
    assert expected == walk_batch(SV48, builder.root, vas, LOAD, S_CTX, memory)
