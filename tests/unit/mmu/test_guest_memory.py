"""Guest physical memory against a plain bytearray model."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.domain import VmConfig
from vmcore_domain_services.memory import (
    PAGE_SIZE,
    AccessKind,
    GuestMemory,
    MemoryAccessError,
)

BASE = 0x8000_0000
SIZE = 4 * PAGE_SIZE

_offsets = st.integers(0, SIZE - 8)
_sizes = st.sampled_from([1, 2, 4, 8])
_values = st.integers(0, 2**64 - 1)


@settings(max_examples=60)
@given(st.lists(st.tuples(_offsets, _sizes, _values), max_size=30), _offsets, _sizes)
def test_reads_return_what_a_bytearray_model_holds(
    writes: list[tuple[int, int, int]], read_offset: int, read_size: int
) -> None:
    memory = GuestMemory(SIZE, BASE)
    model = bytearray(SIZE)
    for offset, size, value in writes:
        memory.write(BASE + offset, size, value)
        model[offset : offset + size] = (value % (1 << (8 * size))).to_bytes(size, "little")
    expected = int.from_bytes(model[read_offset : read_offset + read_size], "little")
    assert expected == memory.read(BASE + read_offset, read_size)
    assert bytes(model) == memory.read_bytes(BASE, SIZE)


@settings(max_examples=40)
@given(st.lists(st.tuples(_offsets, _sizes, _values), min_size=1, max_size=20))
def test_dirty_pages_are_exactly_the_pages_written(writes: list[tuple[int, int, int]]) -> None:
    memory = GuestMemory(SIZE, BASE)
    expected: set[int] = set()
    for offset, size, value in writes:
        memory.write(BASE + offset, size, value)
        expected.add((BASE + offset) >> 12)
        expected.add((BASE + offset + size - 1) >> 12)
    assert frozenset(expected) == memory.dirty_pages()
    memory.clear_dirty()
    assert frozenset() == memory.dirty_pages()


def test_unwritten_ram_reads_zero_and_allocates_nothing() -> None:
    memory = GuestMemory(SIZE, BASE)
    expected = (0, 0)
    assert expected == (memory.read(BASE + 0x1000, 8), memory.allocated_pages)


def test_page_crossing_access_round_trips() -> None:
    memory = GuestMemory(SIZE, BASE)
    memory.write(BASE + PAGE_SIZE - 3, 8, 0x1122_3344_5566_7788)
    expected = 0x1122_3344_5566_7788
    assert expected == memory.read(BASE + PAGE_SIZE - 3, 8)
    assert frozenset({BASE >> 12, (BASE >> 12) + 1}) == memory.dirty_pages()


@pytest.mark.parametrize(
    ("address", "size"),
    [(BASE - 1, 1), (BASE - 4, 8), (BASE + SIZE - 4, 8), (BASE + SIZE, 1), (0, 4)],
)
def test_accesses_outside_ram_raise_with_address_size_and_kind(address: int, size: int) -> None:
    memory = GuestMemory(SIZE, BASE)
    with pytest.raises(MemoryAccessError) as read_error:
        memory.read(address, size)
    assert (address, size, AccessKind.READ) == (
        read_error.value.address,
        read_error.value.size,
        read_error.value.kind,
    )
    with pytest.raises(MemoryAccessError) as write_error:
        memory.write(address, size, 1)
    expected_kind = AccessKind.WRITE
    assert expected_kind == write_error.value.kind


@pytest.mark.parametrize("size", [0, 3, 16])
def test_unsupported_sizes_raise_even_on_allocated_pages(size: int) -> None:
    memory = GuestMemory(SIZE, BASE)
    memory.write(BASE, 8, 1)
    with pytest.raises(MemoryAccessError):
        memory.read(BASE, size)
    with pytest.raises(MemoryAccessError):
        memory.write(BASE, size, 0)


def test_mmio_callbacks_receive_offsets_sizes_and_values() -> None:
    memory = GuestMemory(SIZE, BASE)
    writes: list[tuple[int, int, int]] = []
    memory.map_mmio(0x1000_0000, 0x100, lambda offset, size: offset + size, _append_to(writes))
    memory.write(0x1000_0010, 4, 0x1_0000_0042)
    value = memory.read(0x1000_0020, 4)
    expected = ([(0x10, 4, 0x42)], 0x24)
    assert expected == (writes, value)
    with pytest.raises(MemoryAccessError):
        memory.read(0x1000_00FC, 8)
    with pytest.raises(MemoryAccessError):
        memory.read_bytes(0x1000_0000, 4)


def _append_to(log: list[tuple[int, int, int]]) -> Callable[[int, int, int], None]:
    def write(offset: int, size: int, value: int) -> None:
        log.append((offset, size, value))

    return write


@pytest.mark.parametrize(("base", "size"), [(BASE + SIZE - 1, 2), (0x1000_0000, 0x100)])
def test_mmio_windows_may_not_overlap_ram_or_each_other(base: int, size: int) -> None:
    memory = GuestMemory(SIZE, BASE)
    memory.map_mmio(0x1000_0000, 0x100, lambda o, s: 0, lambda o, s, v: None)
    with pytest.raises(ValueError):
        memory.map_mmio(base, size, lambda o, s: 0, lambda o, s, v: None)


def test_pages_and_load_page_round_trip_a_snapshot() -> None:
    memory = GuestMemory(SIZE, BASE)
    memory.write_bytes(BASE + 0x1FF0, b"snapshot-data-across-a-page")
    restored = GuestMemory(SIZE, BASE)
    for page_number, data in memory.pages():
        restored.load_page(page_number, data)
    assert memory.read_bytes(BASE, SIZE) == restored.read_bytes(BASE, SIZE)
    assert frozenset() == restored.dirty_pages()


def test_load_page_outside_ram_raises() -> None:
    with pytest.raises(MemoryAccessError):
        GuestMemory(SIZE, BASE).load_page(0, bytes(PAGE_SIZE))


@pytest.mark.parametrize(("size", "base"), [(0, BASE), (100, BASE), (SIZE, BASE + 1)])
def test_geometry_must_be_page_granular(size: int, base: int) -> None:
    with pytest.raises(ValueError):
        GuestMemory(size, base)


def test_memory_is_sized_by_the_vm_configuration() -> None:
    memory = GuestMemory.for_config(VmConfig(memory="64M"))
    expected = (0x8000_0000, 64 << 20, 0x8400_0000)
    assert expected == (memory.base, memory.size, memory.end)


def test_an_unmapped_mmio_window_faults_again() -> None:
    memory = GuestMemory(SIZE, BASE)
    memory.map_mmio(0x1000_0000, 0x100, lambda offset, size: 0xFFFF_FFFF_FFFF, _append_to([]))
    value = memory.read(0x1000_0000, 2)  # device values are masked to the access size
    memory.unmap_mmio(0x1000_0000)
    with pytest.raises(MemoryAccessError):
        memory.read(0x1000_0000, 2)
    expected = 0xFFFF
    assert expected == value
