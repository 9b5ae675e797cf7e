"""The GuestMemory fast walks (riscv_walker/x86_walker ``_fast_walk``) must equal the spec
walks, result and memory side effects, whatever the tables hold."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.domain import Architecture
from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import (
    SV39,
    SV48,
    SV57,
    X86_64_4LEVEL,
    X86_64_5LEVEL,
    Access,
    AdPolicy,
    PageFault,
    PagingMode,
    Privilege,
    RiscvContext,
    Translation,
    X86Context,
    walk,
)
from vmcore_domain_services.mmu.riscv_walker import spec_walk_riscv
from vmcore_domain_services.mmu.x86_walker import spec_walk_x86

RAM = 0x8000_0000
MMIO = 0x1000_0000
VA = 0x0000_0012_3456_7ABC  # canonical in every mode, index 1-4 at every level
# Where a table pointer leads: a table page in RAM, a page never written, MMIO, nowhere.
ELSEWHERE = [RAM + 0x8000, MMIO, 0x4000_0000]
HIGH_BITS = [1 << 40, 1 << 54, 1 << 62, 1 << 63, 0xFFF << 40]


def _memory() -> GuestMemory:
    memory = GuestMemory(16 * 4096, RAM)
    device = bytearray(4096)

    def read(offset: int, size: int) -> int:
        return int.from_bytes(device[offset : offset + size], "little")

    def write(offset: int, size: int, value: int) -> None:
        device[offset : offset + size] = value.to_bytes(size, "little")

    memory.map_mmio(MMIO, 4096, read, write)
    return memory


def _sometimes(data: st.DataObject, percent: int) -> bool:
    """True ``percent`` % of the time (not at the ends of the range Hypothesis favours)."""
    return 20 <= data.draw(st.integers(0, 99)) < 20 + percent


def _tables(data: st.DataObject, levels: int, riscv: bool) -> list[tuple[int, int]]:
    """(address, value) of one entry per level on VA's path: mostly good pointers."""
    entries = []
    table = RAM
    for level in range(levels - 1, -1, -1):
        address = table + ((VA >> (12 + 9 * level)) & 0x1FF) * 8
        pointer = level and not _sometimes(data, 15)
        target = RAM + (levels - level) * 4096
        if pointer and _sometimes(data, 8):
            target = data.draw(st.sampled_from(ELSEWHERE))
        if riscv:
            low = 1 if pointer else data.draw(st.sampled_from([0xC3, 0xCF, 0xD7, 0x47, 0x0B]))
        else:
            low = data.draw(st.sampled_from([0x67, 0x63, 0x27, 0xE7, 0x01] if level else [0x63]))
        if _sometimes(data, 15):
            low = data.draw(st.integers(0, 511 if not riscv else 255))
        page = target if pointer else data.draw(st.integers(0, 1 << 28)) << 12
        value = ((page >> 12) << 10 if riscv else page) | low
        if _sometimes(data, 12 if level else 40):  # reserved, NX or ignored bits
            value |= data.draw(st.sampled_from(HIGH_BITS))
        entries.append((address, value))
        if not pointer or target in ELSEWHERE:  # the walk reads zeros there, or faults
            break
        table = target
    return entries


def _check(
    mode: PagingMode,
    data: st.DataObject,
    context: RiscvContext | X86Context,
    spec: Callable[..., Translation | PageFault],
) -> None:
    riscv = mode.architecture is Architecture.RISCV64
    entries = _tables(data, mode.levels, riscv)
    access = data.draw(st.sampled_from(Access))
    probe = data.draw(st.booleans())
    fast_memory, spec_memory = _memory(), _memory()
    for memory in (fast_memory, spec_memory):
        for address, value in entries:
            memory.write(address, 8, value)
        memory.clear_dirty()
    expected = spec(mode, RAM, VA, access, context, spec_memory, probe)
    assert expected == walk(mode, RAM, VA, access, context, fast_memory, probe=probe)
    assert list(spec_memory.pages()) == list(fast_memory.pages())
    assert spec_memory.dirty_pages() == fast_memory.dirty_pages()


@settings(max_examples=1000, deadline=None)  # no timing assertions (a loaded machine)
@given(
    mode=st.sampled_from([SV39, SV48, SV57]),
    context=st.builds(
        RiscvContext,
        st.sampled_from([Privilege.USER, Privilege.SUPERVISOR]),
        st.booleans(),
        st.booleans(),
        st.sampled_from(AdPolicy),
        st.booleans(),
    ),
    data=st.data(),
)
def test_riscv_fast_walk_equals_the_spec_walk(
    mode: PagingMode, context: RiscvContext, data: st.DataObject
) -> None:
    _check(mode, data, context, spec_walk_riscv)


@settings(max_examples=1000, deadline=None)  # no timing assertions (a loaded machine)
@given(
    mode=st.sampled_from([X86_64_4LEVEL, X86_64_5LEVEL]),
    context=st.builds(
        X86Context,
        st.sampled_from([0, 3]),
        st.booleans(),
        st.booleans(),
        st.booleans(),
        st.booleans(),
        st.booleans(),
        st.sampled_from([40, 52]),
        st.booleans(),
    ),
    data=st.data(),
)
def test_x86_fast_walk_equals_the_spec_walk(
    mode: PagingMode, context: X86Context, data: st.DataObject
) -> None:
    _check(mode, data, context, spec_walk_x86)
