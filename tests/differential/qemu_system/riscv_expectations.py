"""What the probe should report, from our walker: the cases to send and their outcomes.

Our walker runs with its spec defaults except ``AdPolicy.HARDWARE`` (QEMU 7.2 sets A and
D itself, as Svadu; the spec default here is Svade). Where QEMU 7.2 departs from our
walker, ``qemu_7_2_view`` turns our result into what QEMU does (it documents the departure;
docs/mmu.md has the summary), and ``MPRV_CAVEAT`` says which accesses the probe cannot make
faithfully.

Outcomes of a translation that succeeds: a load returns the word at the physical address
(the modelled RAM holds ``pattern_word`` or whatever was stored since), a store's marker
is read back there, a fetch hits the illegal instruction in the pattern (mcause 2, mtval
the instruction, mepc the va). Outside the modelled RAM the PMP or the bus refuses the
access: an access fault with tval = va, after the A/D write-back.
"""

from __future__ import annotations

from attrs import frozen

from tests.differential.qemu_system.riscv_probe_io import (
    HOLE_BASE,
    HOLE_SIZE,
    KIND_FETCH,
    KIND_LOAD,
    KIND_STORE,
    MODEL_BASE,
    MPP_SHIFT,
    MSTATUS_MPRV,
    MSTATUS_MXR,
    MSTATUS_SUM,
    RAM_BASE,
    ProbeCase,
)
from tests.differential.qemu_system.riscv_scenarios import AccessSpec, Scenario
from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import (
    Access,
    AdPolicy,
    PageFault,
    PagingMode,
    RiscvContext,
    Translation,
    walk,
)

SATP_MODE = {"Sv39": 8, "Sv48": 9, "Sv57": 10}
ACCESS_FAULT = {Access.FETCH: 1, Access.LOAD: 5, Access.STORE: 7}
PAGE_FAULT = {Access.FETCH: 12, Access.LOAD: 13, Access.STORE: 15}
ILLEGAL_INSTRUCTION = 2
KIND = {Access.FETCH: KIND_FETCH, Access.LOAD: KIND_LOAD, Access.STORE: KIND_STORE}
M64 = (1 << 64) - 1

MPRV_CAVEAT = """In QEMU 7.2 an M-mode load or store under mstatus.MPRV can hit a TLB entry
made for M-mode itself: a U-mode load through a W-only leaf at the virtual address of the
probe's own code page returns the probe's memory, no fault, while the same load one page
further faults as it should. The entry comes from fetching the code that makes the access
(M-mode, identity, RWX), after the TLB flush that writing mstatus does. That is QEMU's MPRV
emulation, not its page walker, so loads and stores never probe the virtual range of the
probe and its cases, [RAM_BASE, MODEL_BASE); fetches run at S or U for real."""


@frozen
class Expected:
    """The report the probe should make; ``epc`` is None where it is the probe's own pc."""

    trapped: bool
    cause: int
    tval: int
    epc: int | None
    value: int


@frozen
class PlannedCase:
    """A case to send, what we expect of it, and how we got there (for failure messages)."""

    case: ProbeCase
    expected: Expected
    scenario: int
    description: str


class _RecordingMemory:
    """The modelled RAM, remembering the last address the walker tried to read."""

    def __init__(self, memory: GuestMemory) -> None:
        self.memory = memory
        self.last_read = -1

    def read(self, address: int, size: int, /) -> int:
        self.last_read = address
        return self.memory.read(address, size)

    def write(self, address: int, size: int, value: int, /) -> None:
        self.memory.write(address, size, value)


def qemu_7_2_view(
    result: Translation | PageFault, access: Access, last_read: int
) -> Translation | PageFault:
    """Our spec result as QEMU 7.2 reports it.

    * A PTE the bus cannot read (no RAM or device there, but allowed by PMP):
      ``get_physical_address`` fails the walk (``res != MEMTX_OK`` -> ``TRANSLATE_FAIL``)
      and QEMU raises a *page* fault; the spec (4.3.2 step 2) wants an access fault, which
      QEMU raises only when PMP refuses the PTE address.
    """
    if (
        isinstance(result, PageFault)
        and result.cause == ACCESS_FAULT[access]
        and HOLE_BASE <= last_read < HOLE_BASE + HOLE_SIZE
    ):
        return result._replace(cause=PAGE_FAULT[access], reason=result.reason + " (QEMU 7.2)")
    return result


def satp_for(mode: PagingMode, root: int) -> int:
    return (SATP_MODE[mode.name] << 60) | (root >> 12)


def access_va(scenario: Scenario, spec: AccessSpec) -> int:
    if spec.raw or not scenario.mapped_vas:
        va = spec.offset
    else:
        va = scenario.mapped_vas[spec.mapping % len(scenario.mapped_vas)] + spec.offset
    if spec.flip is not None:
        va ^= 1 << spec.flip
    return va & M64 & ~7


def plan_case(
    number: int,
    scenario_number: int,
    scenario: Scenario,
    spec: AccessSpec,
    memory: GuestMemory,
    pristine: int,
) -> PlannedCase | None:
    """Walk (updating ``memory`` as QEMU will) and plan the case; None if the access cannot
    be made safely (a fetch that would execute something other than an illegal
    instruction: then ``memory`` is left as it was)."""
    mode = scenario.spec.mode
    va = access_va(scenario, spec)
    access = spec.access
    if access is not Access.FETCH and RAM_BASE <= va < MODEL_BASE:
        return None  # QEMU 7.2 would use the probe's own M-mode TLB entries: see MPRV_CAVEAT
    context = RiscvContext(spec.privilege, spec.sum, spec.mxr, AdPolicy.HARDWARE)
    leaf_before = _leaf_before(mode, scenario.root, va, access, context, memory)
    recording = _RecordingMemory(memory)
    result = qemu_7_2_view(
        walk(mode, scenario.root, va, access, context, recording), access, recording.last_read
    )
    marker = (0xABCD << 48) | (number << 7) | 0x7F  # an illegal instruction, like the pattern
    check_pa = 0
    epc = va if access is Access.FETCH else None
    if isinstance(result, PageFault):
        expected = Expected(True, result.cause, va, epc, 0)
        description = f"{result.reason} (cause {result.cause})"
    else:
        pa = result.physical_address
        description = f"pa {pa:#x} via PTEs at {[hex(a) for a in result.pte_addresses]}"
        if not memory.in_ram(pa, 8):
            expected = Expected(True, ACCESS_FAULT[access], va, epc, 0)
        elif access is Access.LOAD:
            expected = Expected(False, 0, 0, None, memory.read(pa, 8))
        elif access is Access.STORE:
            memory.write(pa, 8, marker)
            check_pa = pa
            expected = Expected(False, 0, 0, None, marker)
        else:
            instruction = memory.read(pa, 4)
            if instruction & 0x7F != 0x7F and instruction & 0xFFFF:
                memory.write(result.pte_addresses[-1], 8, leaf_before)
                return None
            if instruction & 0x7F != 0x7F:
                instruction &= 0xFFFF  # the 16-bit illegal instruction 0x0000
            expected = Expected(True, ILLEGAL_INSTRUCTION, instruction, va, 0)
    mstatus = (
        (int(spec.privilege) << MPP_SHIFT)
        | (MSTATUS_SUM if spec.sum else 0)
        | (MSTATUS_MXR if spec.mxr else 0)
        | (0 if access is Access.FETCH else MSTATUS_MPRV)
    )
    case = ProbeCase(
        satp_for(mode, scenario.root),
        KIND[access],
        mstatus,
        va,
        marker,
        check_pa,
        scenario.root,
        scenario.table_bytes // 8,
        pristine,
    )
    where = f"scenario {scenario_number} ({mode.name}, root {scenario.root:#x})"
    what = f"{access.name} {va:#x} as {spec.privilege.name} sum={spec.sum} mxr={spec.mxr}"
    return PlannedCase(case, expected, scenario_number, f"{where}: {what}: ours: {description}")


def _leaf_before(
    mode: PagingMode, root: int, va: int, access: Access, context: RiscvContext, memory: GuestMemory
) -> int:
    """The leaf PTE a fetch will use, before the walk sets its A bit (0 if none)."""
    if access is not Access.FETCH:
        return 0
    result = walk(mode, root, va, access, context, memory, probe=True)
    return 0 if isinstance(result, PageFault) else memory.read(result.pte_addresses[-1], 8)
