"""The TLB: hits equal fresh walks, invalidation removes exactly what the architecture
requires (from the sets and from the first-level micro-TLB), LRU replacement and statistics."""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import (
    SV39,
    Access,
    AdPolicy,
    PageTableBuilder,
    Privilege,
    RiscvContext,
    Translation,
    probe,
    walk,
)
from vmcore_domain_services.mmu.permissions import tlb_table_for
from vmcore_domain_services.mmu.tlb import Tlb, TlbGeometry

RAM = 0x8000_0000
V, R, W, X, U, G, A, D = (1 << bit for bit in range(8))


def _translation(
    pa: int, page_size: int = 4096, flags: int = V | R | A, glob: bool = False
) -> Translation:
    return Translation(pa, page_size, flags, 0, glob, (), 0)


_MAPPINGS = st.lists(
    st.tuples(
        st.integers(0, 3),  # 2 MiB slot of the virtual address
        st.sampled_from([0, 1]),  # level
        st.sampled_from([R | W | A, R | W | X, R | W | A | U, X | A | U]) | st.integers(0, 255),
        st.integers(0, 15),  # physical 2 MiB slot
    ),
    min_size=1,
    max_size=8,
)
_STEPS = st.lists(
    st.tuples(
        st.tuples(st.integers(0, 3), st.integers(0, 1)),  # (2 MiB slot, 4 KiB page in it)
        st.sampled_from(list(Access)),
        st.sampled_from([Privilege.USER, Privilege.SUPERVISOR]),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200)
@given(mappings=_MAPPINGS, steps=_STEPS, ad_policy=st.sampled_from(list(AdPolicy)))
def test_a_hit_always_equals_a_fresh_walk(
    mappings: list[tuple[int, int, int, int]],
    steps: list[tuple[tuple[int, int], Access, Privilege, bool, bool]],
    ad_policy: AdPolicy,
) -> None:
    memory = GuestMemory(8 << 20, RAM)
    builder = PageTableBuilder(SV39, memory, RAM)
    for slot, level, flags, pa_slot in mappings:
        va = 0x4000_0000 + slot * 0x20_0000
        try:
            if level:
                builder.map(va, pa_slot << 21, flags | V, 1)
            else:
                for page in range(0, 0x2000, 0x1000):
                    builder.map(va + page, (pa_slot << 21) + page, flags | V)
        except ValueError:
            continue
    tlb = Tlb()
    hits = 0
    for (slot, page), access, privilege, sum_, mxr in steps:
        va = 0x4000_0000 + slot * 0x20_0000 + page * 4096 + 8
        context = RiscvContext(privilege, sum_, mxr, ad_policy)
        cached = tlb.lookup(va, 1, access, tlb_table_for(context))
        if cached is not None:
            hits += 1
            fresh = probe(SV39, builder.root, va, access, context, memory)
            assert isinstance(fresh, Translation), (hex(va), access, context, fresh)
            assert fresh.physical_address == cached
            leaf_in_memory = memory.read(fresh.pte_addresses[-1], 8)
            assert fresh.leaf_pte == leaf_in_memory, "a hit skipped an A/D update"
            continue
        result = walk(SV39, builder.root, va, access, context, memory)
        if isinstance(result, Translation):
            tlb.insert(va, 1, result)
    assert hits == tlb.hits


_ENTRIES = st.lists(
    st.tuples(
        st.integers(0, 63),  # virtual page, in units of 4 KiB
        st.sampled_from([4096, 0x20_0000]),
        st.integers(0, 3),  # ASID
        st.booleans(),  # global
    ),
    max_size=30,
)


class _Op(NamedTuple):
    kind: str
    page: int | None
    end_page: int
    asid: int | None
    flag: bool


_ASIDS = st.none() | st.integers(0, 3)
_OPERATIONS = st.builds(
    _Op,
    st.sampled_from(["address", "asid", "range", "flush", "sfence"]),
    st.none() | st.integers(0, 63),
    st.integers(0, 63),
    _ASIDS,
    st.booleans(),
)


def _must_drop(entry: tuple[int, int | None, int, int], op: _Op) -> bool:
    base, asid, size, _ = entry
    page = 0 if op.page is None else op.page * 4096
    covers = base <= page < base + size
    if op.kind == "sfence":
        if op.page is None:
            return op.asid is None or asid == op.asid
        return covers and (op.asid is None or asid == op.asid)
    if op.kind == "address":
        return covers and (op.asid is None or asid == op.asid or (op.flag and asid is None))
    if op.kind == "asid":
        return asid == (op.asid or 0)
    if op.kind == "range":
        end = op.end_page * 4096
        return (base < end and page < base + size and op.asid in (None, asid)) or (
            base < end and page < base + size and asid is None
        )
    return not op.flag or asid is not None


@settings(max_examples=300)
@given(entries=_ENTRIES, op=_OPERATIONS)
def test_invalidation_removes_exactly_what_it_must(
    entries: list[tuple[int, int, int, bool]], op: _Op
) -> None:
    tlb = Tlb((12, 21), {12: TlbGeometry(64, 64), 21: TlbGeometry(4, 64)})
    for page, size, asid, glob in entries:
        va = (page * 4096) & -size
        tlb.insert(va, asid, _translation(0x1000_0000 + va, size, glob=glob))
    before = set(tlb.entries())
    _apply(tlb, op)
    expected = {entry for entry in before if not _must_drop(entry, op)}
    assert expected == set(tlb.entries())


def test_lru_evicts_the_least_recently_used_way() -> None:
    tlb = Tlb((12,), {12: TlbGeometry(1, 2)})
    table = tuple([7] * 256)
    for page in (1, 2):
        tlb.insert(page << 12, 0, _translation(page << 20))
    assert tlb.lookup(1 << 12, 0, Access.LOAD, table) is not None
    tlb.insert(3 << 12, 0, _translation(3 << 20))
    expected = {1 << 12, 3 << 12}
    assert expected == {base for base, *_ in tlb.entries()}
    stats = tlb.stats()
    expected_stats = (1, 0, 1, 2, 1.0)
    assert expected_stats == (
        stats.hits,
        stats.misses,
        stats.evictions,
        stats.entries,
        stats.hit_rate,
    )


def test_global_entries_match_every_asid_and_survive_an_asid_flush() -> None:
    tlb = Tlb()
    table = tuple([7] * 256)
    tlb.insert(0x5000, 3, _translation(0x9000, glob=True))
    tlb.invalidate_asid(3)
    expected = (0x9010, 0x9010)
    assert expected == (tlb.lookup(0x5010, 1, 1, table), tlb.lookup(0x5010, 3, 1, table))


def test_a_store_through_a_clean_entry_misses_so_the_walk_sets_d() -> None:
    tlb = Tlb()
    context = RiscvContext(Privilege.SUPERVISOR)
    tlb.insert(0x5000, 0, _translation(0x9000, flags=V | R | W | A))
    table = tlb_table_for(context)
    expected = (0x9000, None)
    assert expected == (
        tlb.lookup(0x5000, 0, Access.LOAD, table),
        tlb.lookup(0x5000, 0, Access.STORE, table),
    )


def test_a_superpage_entry_translates_every_page_inside_it() -> None:
    tlb = Tlb()
    tlb.insert(0x4020_0000, 0, _translation(0x8020_0000, 0x20_0000))
    table = tuple([7] * 256)
    expected = 0x8031_2345
    assert expected == tlb.lookup(0x4031_2345, 0, Access.LOAD, table)


def test_pages_larger_than_every_class_are_cached_in_the_largest_class() -> None:
    tlb = Tlb((12, 21))
    tlb.insert(0x4012_3456, 0, _translation(0x8012_3456, 1 << 30))
    expected = [(0x4000_0000, 0, 0x20_0000, V | R | A)]
    assert expected == list(tlb.entries())


def test_asids_beyond_sixteen_bits_are_refused() -> None:
    with pytest.raises(ValueError):
        Tlb().insert(0, 1 << 16, _translation(0))


class _Walked(Exception):
    """Raised by the fake walk: the bound translate found nothing in either level."""


def _no_walk(va: int, access: Access) -> int:
    raise _Walked(hex(va))


def _apply(tlb: Tlb, op: _Op) -> None:
    page = 0 if op.page is None else op.page * 4096
    if op.kind == "address":
        tlb.invalidate_address(page, op.asid, op.flag)
    elif op.kind == "asid":
        tlb.invalidate_asid(op.asid or 0)
    elif op.kind == "range":
        tlb.invalidate_range(page, op.end_page * 4096, op.asid)
    elif op.kind == "flush":
        tlb.flush(keep_global=op.flag)
    else:
        tlb.sfence_vma(None if op.page is None else page, op.asid)


@settings(max_examples=300)
@given(entries=_ENTRIES, op=_OPERATIONS, asid=st.integers(0, 3))
def test_the_first_level_never_serves_what_an_invalidation_dropped(
    entries: list[tuple[int, int, int, bool]], op: _Op, asid: int
) -> None:
    tlb = Tlb((12, 21), {12: TlbGeometry(64, 64), 21: TlbGeometry(4, 64)})
    table = tuple([7] * 256)
    for page, size, owner, glob in entries:
        va = (page * 4096) & -size
        tlb.insert(va, owner, _translation(0x1000_0000 + va, size, glob=glob))
    translate = tlb.bind(asid, table, _no_walk)
    for page in range(64):  # fill the first level with every page it can hold
        with contextlib.suppress(_Walked):
            translate(page * 4096, Access.LOAD)
    _apply(tlb, op)
    kept = list(tlb.entries())
    for page in range(64):
        va = page * 4096 + 8
        covered = any(
            base <= va < base + size and owner in (None, asid) for base, owner, size, _ in kept
        )
        expected = 0x1000_0000 + va if covered else None
        try:
            actual: int | None = translate(va, Access.LOAD)
        except _Walked:
            actual = None
        assert expected == actual


def test_the_first_level_serves_only_the_access_and_context_it_was_filled_for() -> None:
    tlb = Tlb()
    writable = tuple([7] * 256)
    read_only = tuple([1 << Access.LOAD] * 256)
    tlb.insert(0x5000, 0, _translation(0x9000))
    tlb.bind(0, writable, _no_walk)(0x5008, Access.LOAD)
    micro = tlb.first_level
    filled = ([dict(pages) for pages in micro.maps], micro.lookup(0x5008, Access.STORE))
    tlb.bind(0, read_only, _no_walk)  # another context: the first level starts empty
    assert (([{}, {0x5: 0x4000}, {}], None), 0) == (filled, len(micro))


def test_the_first_level_is_non_inclusive_and_first_in_first_out() -> None:
    tlb = Tlb((12,), {12: TlbGeometry(1, 1)}, micro_capacity=2)
    table = tuple([7] * 256)
    translate = tlb.bind(0, table, _no_walk)
    for page in (1, 2, 3):
        tlb.insert(page << 12, 0, _translation(page << 20))
        translate(page << 12, Access.LOAD)  # fills the micro-TLB; the sets keep only page 3
    micro = tlb.first_level
    expected = ([3 << 12], [None, 2 << 20, 3 << 20], 2)
    assert expected == (
        [base for base, *_ in tlb.entries()],
        [micro.lookup(page << 12, Access.LOAD) for page in (1, 2, 3)],
        tlb.stats().evictions,
    )


def test_what_the_binder_calls_uncacheable_never_enters_the_first_level() -> None:
    tlb = Tlb()
    table = tuple([7] * 256)
    tlb.insert(0x5000, 0, _translation(0x9000))
    tlb.insert(0x6000, 0, _translation(0xA000))
    translate = tlb.bind(0, table, _no_walk, lambda pa, access: pa < 0xA000)
    results = [translate(va, Access.LOAD) for va in (0x5000, 0x6000)]
    assert ([0x9000, 0xA000], {0x5: 0x4000}) == (results, tlb.first_level.maps[Access.LOAD])


def test_reset_stats_restarts_the_counts() -> None:
    tlb = Tlb()
    table = tuple([7] * 256)
    tlb.insert(0x5000, 0, _translation(0x9000))
    tlb.lookup(0x5000, 0, Access.LOAD, table)
    tlb.lookup(0x7000, 0, Access.LOAD, table)
    tlb.reset_stats()
    tlb.lookup(0x5000, 0, Access.LOAD, table)
    tlb.insert(0x7000, 0, _translation(0xB000))
    stats = tlb.stats()
    expected = (1, 0, 0, 2)
    assert expected == (stats.hits, stats.misses, stats.evictions, stats.entries)
