"""The MMU service: TLB then walk then fill, faults raised in one place, bus handlers."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from attrs import frozen
from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.domain.runtime import RuntimeEvent
from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import (
    PAGE_FAULT_TOPIC,
    SV39,
    TLB_FLUSHED_TOPIC,
    X86_64_4LEVEL,
    Access,
    AdPolicy,
    MmuService,
    MmuTrap,
    PageFault,
    PageTableBuilder,
    Privilege,
    RiscvContext,
    X86Context,
    probe,
)

RAM = 0x8000_0000
V, R, W, X, U, G, A, D = (1 << bit for bit in range(8))
S_HW = RiscvContext(Privilege.SUPERVISOR, ad_policy=AdPolicy.HARDWARE)


@frozen
class _VmEvent:
    originator_id: UUID
    bus_topic: str = "vm.stopped"


def _riscv_service(
    vm_id: UUID | None = None,
) -> tuple[MmuService, PageTableBuilder, list[RuntimeEvent]]:
    memory = GuestMemory(1 << 20, RAM)
    builder = PageTableBuilder(SV39, memory, RAM)
    events: list[RuntimeEvent] = []
    service = MmuService(memory, publish=events.append, vm_id=vm_id)
    service.set_context(S_HW)
    service.write_satp((8 << 60) | (5 << 44) | (builder.root >> 12))
    return service, builder, events


def test_translate_walks_on_a_miss_and_hits_afterwards() -> None:
    service, builder, _ = _riscv_service()
    builder.map(0x4000_0000, 0x9000_0000, V | R | W)
    first = service.translate(0x4000_0010, Access.LOAD)
    second = service.translate(0x4000_0020, Access.LOAD)  # a micro-TLB hit: not counted
    service.set_context(RiscvContext(Privilege.SUPERVISOR, mxr=True))  # another micro-TLB
    third = service.translate(0x4000_0030, Access.LOAD)  # a hit in the sets
    stats = service.stats()
    expected = (0x9000_0010, 0x9000_0020, 0x9000_0030, 1, 1)
    assert expected == (first, second, third, stats.hits, stats.misses)


_CONTEXTS = st.builds(
    RiscvContext,
    st.sampled_from([Privilege.USER, Privilege.SUPERVISOR]),
    st.booleans(),
    st.booleans(),
    st.sampled_from(list(AdPolicy)),
)
_PAGES = st.tuples(st.integers(0, 5), st.sampled_from(list(Access)), _CONTEXTS)


@settings(max_examples=200)
@given(
    flags=st.lists(st.integers(0, 255), min_size=6, max_size=6),
    steps=st.lists(st.tuples(_PAGES, st.integers(0, 9)), min_size=1, max_size=60),
)
def test_every_translation_equals_a_fresh_walk(
    flags: list[int], steps: list[tuple[tuple[int, Access, RiscvContext], int]]
) -> None:
    """Through both TLB levels, across context changes, remappings and fences: whatever
    ``translate`` returns, a fresh walk returns too, and it traps exactly when the walk
    faults. A page is remapped (to another frame, with other flags) only with a fence."""
    service, builder, _ = _riscv_service()
    leaves = [
        builder.map(0x4000_0000 + page * 4096, 0x9000_0000 + page * 4096, bits | V)
        for page, bits in enumerate(flags)
    ]
    for (page, access, context), action in steps:
        if action == 0:  # remap the page elsewhere, then fence it (as software must)
            frame = builder.memory.read(leaves[page], 8) >> 10 << 12
            moved = builder.leaf_entry(frame ^ 0x10_0000, (flags[page] ^ 0b1110) | V)
            builder.memory.write(leaves[page], 8, moved)
            service.sfence_vma(0x4000_0000 + page * 4096)
        service.set_context(context)
        va = 0x4000_0000 + page * 4096 + 8
        fresh = probe(SV39, builder.root, va, access, context, builder.memory)
        if isinstance(fresh, PageFault):
            with pytest.raises(MmuTrap):
                service.translate(va, access)
        else:
            assert fresh.physical_address == service.translate(va, access)


def test_a_fault_is_raised_once_and_published() -> None:
    vm_id = uuid4()
    service, _, events = _riscv_service(vm_id)
    with pytest.raises(MmuTrap) as trap:
        service.translate(0x4000_0000, Access.STORE)
    expected = (15, 0x4000_0000, [PAGE_FAULT_TOPIC], vm_id)
    assert expected == (
        trap.value.fault.cause,
        trap.value.fault.address,
        [event.bus_topic for event in events],
        events[0].vm_id,
    )


def test_a_privilege_change_is_honoured_without_a_flush() -> None:
    service, builder, _ = _riscv_service()
    builder.map(0x4000_0000, 0x9000_0000, V | R | W)
    service.translate(0x4000_0000, Access.LOAD)
    service.set_context(RiscvContext(Privilege.USER, ad_policy=AdPolicy.HARDWARE))
    with pytest.raises(MmuTrap):
        service.translate(0x4000_0000, Access.LOAD)


def test_sfence_vma_makes_a_remapping_visible() -> None:
    service, builder, events = _riscv_service()
    leaf = builder.map(0x4000_0000, 0x9000_0000, V | R)
    service.translate(0x4000_0000, Access.LOAD)
    builder.memory.write(leaf, 8, builder.leaf_entry(0x9100_0000, V | R))
    stale = service.translate(0x4000_0000, Access.LOAD)  # allowed until the fence
    service.sfence_vma(0x4000_0000)
    fresh = service.translate(0x4000_0000, Access.LOAD)
    expected = (0x9000_0000, 0x9100_0000, [TLB_FLUSHED_TOPIC])
    assert expected == (stale, fresh, [event.bus_topic for event in events])


def test_machine_mode_and_bare_translate_to_the_same_address() -> None:
    service, _, _ = _riscv_service()
    service.set_context(RiscvContext(Privilege.MACHINE))
    machine = service.translate(0x1234, Access.FETCH)
    service.set_context(S_HW)
    service.write_satp(0)
    expected = (0x1234, 0x5678, 0)
    assert expected == (machine, service.translate(0x5678, Access.STORE), len(service.tlb))


def test_handlers_flush_only_for_their_own_vm() -> None:
    vm_id = uuid4()
    service, builder, events = _riscv_service(vm_id)
    builder.map(0x4000_0000, 0x9000_0000, V | R)
    service.translate(0x4000_0000, Access.LOAD)
    handlers = service.bus_handlers()
    handlers["vm.stopped"](_VmEvent(uuid4()))
    before = len(service.tlb)
    handlers["vm.snapshot_restored"](_VmEvent(vm_id, "vm.snapshot_restored"))
    expected = (1, 0, [{"scope": "all", "dropped": 1, "reason": "vm.snapshot_restored"}])
    assert expected == (before, len(service.tlb), [dict(event.data) for event in events])


def test_x86_cr3_write_keeps_global_entries() -> None:
    memory = GuestMemory(1 << 20, 0x10_0000)
    builder = PageTableBuilder(X86_64_4LEVEL, memory, 0x10_0000)
    builder.map(0x4000_0000, 0x9000_0000, 0x1 | (1 << 8))  # present, global
    builder.map(0x5000_0000, 0x9100_0000, 0x1)
    service = MmuService(memory, X86_64_4LEVEL, builder.root, X86Context())
    service.translate(0x4000_0000, Access.LOAD)
    service.translate(0x5000_0000, Access.LOAD)
    service.write_cr3(builder.root)
    expected = [(0x4000_0000, None, 4096, 0)]  # read-only, supervisor, executable, clean
    assert expected == list(service.tlb.entries())


def test_x86_without_cr4_pge_no_entry_is_global_and_toggling_pge_flushes() -> None:
    memory = GuestMemory(1 << 20, 0x10_0000)
    builder = PageTableBuilder(X86_64_4LEVEL, memory, 0x10_0000)
    builder.map(0x4000_0000, 0x9000_0000, 0x1 | (1 << 8))  # present, G
    events: list[RuntimeEvent] = []
    no_pge = X86Context(pge=False)
    service = MmuService(memory, X86_64_4LEVEL, builder.root, no_pge, publish=events.append)
    service.translate(0x4000_0000, Access.LOAD)
    cached_without_pge = list(service.tlb.entries())
    service.write_cr3(builder.root)  # PGE clear: the G entry goes too
    after_cr3 = len(service.tlb)
    service.set_context(X86Context())  # setting PGE flushes everything
    service.translate(0x4000_0000, Access.LOAD)
    service.set_context(X86Context(pge=False))  # clearing it too
    expected = (
        [(0x4000_0000, 0, 4096, 0)],
        0,
        0,
        [("non_global", "instruction"), ("all", "cr4.pge"), ("all", "cr4.pge")],
    )
    assert expected == (
        cached_without_pge,
        after_cr3,
        len(service.tlb),
        [(event.data["scope"], event.data["reason"]) for event in events],
    )


def test_a_context_of_the_wrong_architecture_is_refused() -> None:
    memory = GuestMemory(1 << 20, RAM)
    with pytest.raises(TypeError):
        MmuService(memory, X86_64_4LEVEL, RAM, RiscvContext()).translate(0, Access.LOAD)


def test_x86_invlpg_and_pcid_cr3_writes() -> None:
    memory = GuestMemory(1 << 20, 0x10_0000)
    builder = PageTableBuilder(X86_64_4LEVEL, memory, 0x10_0000)
    builder.map(0x4000_0000, 0x9000_0000, 0x1)
    service = MmuService(memory, X86_64_4LEVEL, builder.root, X86Context())
    service.write_cr3(builder.root | 7, pcide=True)  # PCID 7
    service.translate(0x4000_0000, Access.LOAD)
    service.write_cr3(builder.root | 3 | (1 << 63), pcide=True)  # PCID 3, no flush
    service.translate(0x4000_0000, Access.LOAD)
    cached_pcids = sorted(asid or 0 for _, asid, _, _ in service.tlb.entries())
    service.invlpg(0x4000_0000)  # only the current PCID (3)
    after_invlpg = sorted(asid or 0 for _, asid, _, _ in service.tlb.entries())
    service.write_cr3(builder.root | 7, pcide=True)  # flushes PCID 7
    expected = ([3, 7], [7], 0)
    assert expected == (cached_pcids, after_invlpg, len(service.tlb))
