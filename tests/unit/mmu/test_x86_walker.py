"""The x86-64 4-level and 5-level walker, rule by rule (SDM vol. 3, 4.5-4.7)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import (
    X86_64_4LEVEL,
    X86_64_5LEVEL,
    Access,
    PageFault,
    PageTableBuilder,
    PagingMode,
    Translation,
    X86Context,
    probe,
    walk,
)

RAM = 0x10_0000
P, RW, US, A, D, PS, G = 1, 2, 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
NX = 1 << 63
KERNEL = X86Context(cpl=0, wp=True, smep=True, smap=True, nxe=True)
USER = X86Context(cpl=3, wp=True, smep=True, smap=True, nxe=True)
LOAD, STORE, FETCH = Access.LOAD, Access.STORE, Access.FETCH


def _setup(mode: PagingMode = X86_64_4LEVEL) -> tuple[GuestMemory, PageTableBuilder]:
    memory = GuestMemory(1 << 20, RAM)
    return memory, PageTableBuilder(mode, memory, RAM)


def _outcome(result: Translation | PageFault) -> tuple[int, int] | int:
    if isinstance(result, PageFault):
        return (result.cause, result.error_code)
    return result.physical_address


@pytest.mark.parametrize(
    ("flags", "context", "access", "expected"),
    [
        (P, KERNEL, LOAD, 0x9000_0123),
        (P, KERNEL, STORE, (14, 0b0011)),  # WP: supervisor cannot write read-only
        (P, X86Context(wp=False), STORE, 0x9000_0123),
        (P, USER, LOAD, (14, 0b0101)),  # user touching a supervisor page
        (P | US | RW, USER, STORE, 0x9000_0123),
        (P | US, USER, STORE, (14, 0b0111)),
        (P | US, KERNEL, LOAD, (14, 0b0001)),  # SMAP
        (P | US, X86Context(smap=True, ac=True), LOAD, 0x9000_0123),  # EFLAGS.AC
        (P | US, KERNEL, FETCH, (14, 0b10001)),  # SMEP
        (P | NX, KERNEL, FETCH, (14, 0b10001)),
        (P | NX, X86Context(nxe=False), LOAD, (14, 0b1001)),  # NX reserved without NXE
        (0, KERNEL, LOAD, (14, 0b0000)),
        (0, USER, FETCH, (14, 0b10100)),
        (P | (1 << 45), KERNEL, LOAD, (14, 0b1001)),  # above MAXPHYADDR (40)
    ],
)
def test_leaf_rules(
    flags: int, context: X86Context, access: Access, expected: tuple[int, int] | int
) -> None:
    memory, builder = _setup()
    builder.map(0x4000_0000, 0x9000_0000, flags)
    assert expected == _outcome(
        walk(X86_64_4LEVEL, builder.root, 0x4000_0123, access, context, memory)
    )


def test_permissions_accumulate_across_levels() -> None:
    memory, builder = _setup()
    builder.map(0x4000_0000, 0x9000_0000, P | RW | US)
    pde = builder.entry_address(0x4000_0000, 1)
    memory.write(pde, 8, memory.read(pde, 8) & ~RW)
    expected = (14, 0b0111)
    assert expected == _outcome(walk(X86_64_4LEVEL, builder.root, 0x4000_0000, STORE, USER, memory))


@pytest.mark.parametrize(("level", "size"), [(1, 0x20_0000), (2, 0x4000_0000)])
def test_large_pages_and_their_reserved_bits(level: int, size: int) -> None:
    memory, builder = _setup()
    builder.map(0x80_0000_0000, 0x4000_0000, P | RW, level)
    result = walk(X86_64_4LEVEL, builder.root, 0x80_0000_0000 + size - 8, LOAD, KERNEL, memory)
    expected = (0x4000_0000 + size - 8, size)
    assert isinstance(result, Translation)
    assert expected == (result.physical_address, result.page_size)
    builder.map(0x90_0000_0000, 0x4000_2000, P | RW, level)  # misaligned: reserved bit 13
    misaligned = walk(X86_64_4LEVEL, builder.root, 0x90_0000_0000, LOAD, KERNEL, memory)
    expected_fault = (14, 0b1001)
    assert expected_fault == _outcome(misaligned)


def test_ps_in_a_pml4_entry_is_reserved() -> None:
    memory, builder = _setup()
    builder.map(0x4000_0000, 0x9000_0000, P)
    pml4e = builder.entry_address(0x4000_0000, 3)
    memory.write(pml4e, 8, memory.read(pml4e, 8) | PS)
    expected = (14, 0b1001)
    result = walk(X86_64_4LEVEL, builder.root, 0x4000_0000, LOAD, KERNEL, memory)
    assert expected == _outcome(result)


@pytest.mark.parametrize(
    ("mode", "va", "canonical"),
    [
        (X86_64_4LEVEL, 0x0000_8000_0000_0000, False),
        (X86_64_4LEVEL, 0xFFFF_8000_0000_0000, True),
        (X86_64_5LEVEL, 0x0000_8000_0000_0000, True),
        (X86_64_5LEVEL, 0x0100_0000_0000_0000, False),
    ],
)
def test_non_canonical_addresses_raise_gp(mode: PagingMode, va: int, canonical: bool) -> None:
    memory, _ = _setup(mode)
    result = walk(mode, RAM, va, LOAD, KERNEL, memory)
    expected = (14, 0) if canonical else (13, 0)
    assert expected == _outcome(result)


def test_five_level_paging_walks_five_tables() -> None:
    memory, builder = _setup(X86_64_5LEVEL)
    va = 0x00FF_0000_1234_5000
    builder.map(va, 0x7654_3000, P | RW)
    result = walk(X86_64_5LEVEL, builder.root, va + 0x10, LOAD, KERNEL, memory)
    assert isinstance(result, Translation)
    expected = (0x7654_3010, 5)
    assert expected == (result.physical_address, len(result.pte_addresses))


def test_accessed_and_dirty_bits_are_set_and_probe_writes_nothing() -> None:
    memory, builder = _setup()
    leaf = builder.map(0x4000_0000, 0x9000_0000, P | RW)
    pml4e = builder.entry_address(0x4000_0000, 3)
    probed = probe(X86_64_4LEVEL, builder.root, 0x4000_0000, STORE, KERNEL, memory)
    assert isinstance(probed, Translation)
    before = (memory.read(pml4e, 8) & A, memory.read(leaf, 8) & (A | D))
    walk(X86_64_4LEVEL, builder.root, 0x4000_0000, STORE, KERNEL, memory)
    after = (memory.read(pml4e, 8) & A, memory.read(leaf, 8) & (A | D))
    expected = ((0, 0), (A, A | D), P | RW | A | D)
    assert expected == (before, after, probed.leaf_pte & 0xFFF)


@settings(max_examples=60)
@given(mode=st.sampled_from([X86_64_4LEVEL, X86_64_5LEVEL]), data=st.data())
def test_mapping_then_walking_round_trips(mode: PagingMode, data: st.DataObject) -> None:
    level = data.draw(st.sampled_from(mode.leaf_levels))
    shift = mode.page_shift_at(level)
    half = 1 << (mode.va_bits - 1)
    va_page = data.draw(st.integers(0, (half >> shift) - 1)) << shift
    if data.draw(st.booleans()):
        va_page = (va_page | -half) & (2**64 - 1)
    pa_page = data.draw(st.integers(0, (1 << (40 - shift)) - 1)) << shift
    offset = data.draw(st.integers(0, (1 << shift) - 1))
    memory, builder = _setup(mode)
    builder.map(va_page, pa_page, P | RW | US, level)
    result = walk(mode, builder.root, va_page + offset, STORE, USER, memory)
    assert isinstance(result, Translation)
    expected = (pa_page + offset, 1 << shift, mode.levels - level)
    assert expected == (result.physical_address, result.page_size, len(result.pte_addresses))
