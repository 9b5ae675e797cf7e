# mypy: disable-error-code="no-untyped-call"
"""Our RISC-V Sv39/Sv48 walker against QEMU 5.0's (Unicorn 2.1.4), on generated tables.

QEMU walks through ``uc_vmem_translate`` at the privilege and mstatus we set; both sides
start from the same page tables and must agree on the physical address or on the fault,
and afterwards on every A/D bit written back into the tables. Our walker runs with its
QEMU-compatible options (hardware A/D updates, PTE bits 63:54 unchecked); the spec
defaults are covered by the unit tests.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from unicorn.riscv_const import (
    UC_RISCV_REG_A1,
    UC_RISCV_REG_MSTATUS,
    UC_RISCV_REG_PRIV,
    UC_RISCV_REG_SATP,
)
from unicorn.unicorn_const import (
    UC_ARCH_RISCV,
    UC_CTL_IO_WRITE,
    UC_CTL_TLB_FLUSH,
    UC_HOOK_INTR,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_UNMAPPED,
    UC_HOOK_MEM_WRITE,
    UC_MODE_RISCV64,
    UC_PROT_EXEC,
    UC_PROT_READ,
    UC_PROT_WRITE,
)
from unicorn.unicorn_py3.unicorn import Uc, UcError

from tests.differential.mmu.targets import ACCESS_TARGETS
from tests.oracles.unicorn import unicorn_vmem_translate
from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import (
    SV39,
    SV48,
    Access,
    AdPolicy,
    PageFault,
    PageTableBuilder,
    PagingMode,
    Privilege,
    RiscvContext,
    walk,
)

RAM = 0x8000_0000
RAM_SIZE = 1 << 20
SATP_MODE = {SV39.name: 8, SV48.name: 9}
UC_PROT = {Access.FETCH: UC_PROT_EXEC, Access.LOAD: UC_PROT_READ, Access.STORE: UC_PROT_WRITE}
MSTATUS_SUM = 1 << 18
MSTATUS_MXR = 1 << 19

uc_vmem_translate = unicorn_vmem_translate()


class _QemuRiscv:
    """One Unicorn RISC-V CPU reused across examples: tables are rewritten each time."""

    def __init__(self) -> None:
        self.uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
        self.uc.mem_map(RAM, RAM_SIZE)
        self.seen: list[tuple[str, int]] = []
        self.uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, self._on_memory)
        self.uc.hook_add(UC_HOOK_MEM_UNMAPPED, self._on_unmapped)
        self.uc.hook_add(UC_HOOK_INTR, self._on_interrupt)

    def _on_memory(
        self, uc: Uc, kind: int, address: int, size: int, value: int, data: object
    ) -> None:
        self.seen.append(("memory", address))

    def _on_unmapped(
        self, uc: Uc, kind: int, address: int, size: int, value: int, data: object
    ) -> bool:
        self.seen.append(("memory", address))
        return False

    def _on_interrupt(self, uc: Uc, cause: int, data: object) -> None:
        self.seen.append(("trap", cause))
        uc.emu_stop()

    def execute(
        self, mode: PagingMode, root: int, pc: int, va: int, context: RiscvContext
    ) -> tuple[str, int] | None:
        """Run the one load or store at ``pc`` with a1 = ``va``: the physical address it
        touched or the trap it raised."""
        uc = self.uc
        self._set_state(mode, root, context)
        uc.reg_write(UC_RISCV_REG_A1, va)
        self.seen.clear()
        with contextlib.suppress(UcError):  # an unmapped target: the hook saw its address
            uc.emu_start(pc, pc + 0x100, count=1)
        return self.seen[0] if self.seen else None

    def load(self, memory: GuestMemory, used: int) -> None:
        self.uc.mem_write(RAM, memory.read_bytes(RAM, used))

    def translate(
        self, mode: PagingMode, root: int, va: int, access: Access, context: RiscvContext
    ) -> int | None:
        self._set_state(mode, root, context)
        pa = ctypes.c_uint64()
        err = uc_vmem_translate(self.uc._uch, va, UC_PROT[access], ctypes.byref(pa))
        return pa.value if err == 0 else None

    def _set_state(self, mode: PagingMode, root: int, context: RiscvContext) -> None:
        uc = self.uc
        uc.reg_write(UC_RISCV_REG_PRIV, 3)  # CSR writes are checked against the privilege
        uc.reg_write(UC_RISCV_REG_SATP, (SATP_MODE[mode.name] << 60) | (root >> 12))
        mstatus = (MSTATUS_SUM if context.sum else 0) | (MSTATUS_MXR if context.mxr else 0)
        uc.reg_write(UC_RISCV_REG_MSTATUS, mstatus)
        uc.reg_write(UC_RISCV_REG_PRIV, int(context.privilege))
        uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def read_bytes(self, used: int) -> bytes:
        return bytes(self.uc.mem_read(RAM, used))


@pytest.fixture(scope="module")
def qemu() -> Iterator[_QemuRiscv]:
    yield _QemuRiscv()


_INDEX = st.sampled_from([0, 1, 2, 255, 256, 511])
_FLAGS = st.integers(0, 255).map(lambda flags: flags | 1) | st.integers(0, 255)


@st.composite
def _mapping(draw: st.DrawFn, mode: PagingMode) -> tuple[int, int, int, int]:
    level = draw(st.sampled_from(mode.leaf_levels[:3]))
    va = 0
    for current in range(mode.levels - 1, level - 1, -1):
        va |= draw(_INDEX) << mode.page_shift_at(current)
    if va >> (mode.va_bits - 1):
        va |= -(1 << mode.va_bits) & (2**64 - 1)
    shift = mode.page_shift_at(level)
    if draw(st.integers(0, 4)):
        pa = draw(st.integers(0, (1 << (40 - shift)) - 1)) << shift
    else:
        pa = draw(st.integers(0, (1 << 28) - 1)) << 12  # often a misaligned superpage
    return va, pa, draw(_FLAGS), level


@st.composite
def _scenario(draw: st.DrawFn) -> tuple[PagingMode, GuestMemory, PageTableBuilder, list[int]]:
    mode = draw(st.sampled_from([SV39, SV48]))
    memory = GuestMemory(RAM_SIZE, RAM)
    builder = PageTableBuilder(mode, memory, RAM)
    vas: list[int] = []
    for va, pa, flags, level in draw(st.lists(_mapping(mode), min_size=1, max_size=6)):
        try:
            builder.map(va, pa, flags, level)
        except ValueError:
            continue
        vas.append(va)
    for _ in range(draw(st.integers(0, 2))):  # corrupt a pointer on the path of some va
        if not vas:
            break
        va = draw(st.sampled_from(vas))
        level = draw(st.integers(1, mode.levels - 1))
        address = builder.entry_address(va, level) if _path_exists(builder, va, level) else None
        if address is not None:
            memory.write(address, 8, memory.read(address, 8) ^ draw(st.integers(1, 255)))
    for _ in range(draw(st.integers(0, 2))):  # set PTE bits 63:54 of a pointer or leaf
        if not vas:
            break
        va = draw(st.sampled_from(vas))
        level = draw(st.integers(0, mode.levels - 1))
        if _path_exists(builder, va, level):
            address = builder.entry_address(va, level)
            high = draw(st.integers(1, 0x3FF)) << 54
            memory.write(address, 8, memory.read(address, 8) | high)
    return mode, memory, builder, vas


def test_a_leaf_with_bits_63_54_set_translates_as_qemu_does(qemu: _QemuRiscv) -> None:
    """Issue 10, bug 1: QEMU 5.0 folds PTE bits 63:54 into the PPN and truncates the
    address to 64 bits; our QEMU-compatible option must give the same address."""
    memory = GuestMemory(RAM_SIZE, RAM)
    memory.write(RAM + 1 * 8, 8, 0x8000_0000_2000_00CF)  # root[1]: a gigapage, bit 63 set
    memory.write(RAM + 0x1000, 8, 0)  # the rest of the scenario's tables: empty
    context = RiscvContext(Privilege.SUPERVISOR, False, False, AdPolicy.HARDWARE, qemu_5_0=True)
    qemu.load(memory, 0x2000)
    ours = walk(SV39, RAM, 0x4000_1234, Access.LOAD, context, memory)
    theirs = qemu.translate(SV39, RAM, 0x4000_1234, Access.LOAD, context)
    assert 0x8000_1234 == theirs
    assert theirs == ours.physical_address


def _path_exists(builder: PageTableBuilder, va: int, level: int) -> bool:
    memory = builder.memory
    assert isinstance(memory, GuestMemory)
    table = builder.root
    for current in range(builder.mode.levels - 1, level, -1):
        if not memory.in_ram(table, 4096):
            return False
        entry = memory.read(table + builder.mode.index(va, current) * 8, 8)
        if entry & 0xB != 0x1:
            return False
        table = (entry >> 10) << 12
    return memory.in_ram(table, 4096)


_ACCESSES = st.lists(
    st.tuples(
        ACCESS_TARGETS,
        st.sampled_from(list(Access)),
        st.sampled_from([Privilege.USER, Privilege.SUPERVISOR]),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=4,
)


_Scenario = tuple[PagingMode, GuestMemory, PageTableBuilder, list[int]]
_AccessCase = tuple[tuple[int, bool], Access, Privilege, bool, bool]


def _check(qemu: _QemuRiscv, scenario: _Scenario, accesses: list[_AccessCase]) -> None:
    mode, memory, builder, vas = scenario
    used = builder.next_table - RAM
    qemu.load(memory, used)
    for number, ((value, raw), access, privilege, sum_, mxr) in enumerate(accesses):
        va = value if raw or not vas else (vas[number % len(vas)] + value) % 2**64
        context = RiscvContext(privilege, sum_, mxr, AdPolicy.HARDWARE, qemu_5_0=True)
        ours = walk(mode, builder.root, va, access, context, memory)
        theirs = qemu.translate(mode, builder.root, va, access, context)
        expected = None if isinstance(ours, PageFault) else ours.physical_address
        assert expected == theirs, (hex(va), access, context, ours)
        assert memory.read_bytes(RAM, used) == qemu.read_bytes(used), "A/D bits differ"


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=_scenario(), accesses=_ACCESSES)
def test_walks_agree_with_qemu(
    qemu: _QemuRiscv,
    scenario: _Scenario,
    accesses: list[_AccessCase],
) -> None:
    _check(qemu, scenario, accesses)


@pytest.mark.soak
@pytest.mark.timeout(1800)
@settings(max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=_scenario(), accesses=_ACCESSES)
def test_walks_agree_with_qemu_soak(
    qemu: _QemuRiscv,
    scenario: _Scenario,
    accesses: list[_AccessCase],
) -> None:
    _check(qemu, scenario, accesses)


CODE_PA = RAM + 0xF_0000
LD_A0_A1 = 0x0005_B503  # ld a0, 0(a1)
SD_A0_A1 = 0x00A5_B023  # sd a0, 0(a1)


def _check_execution(qemu: _QemuRiscv, scenario: _Scenario, accesses: list[_AccessCase]) -> None:
    mode, memory, builder, vas = scenario
    supervisor_code = 3 << mode.page_shift_at(mode.levels - 1)  # a top index never generated
    user_code = supervisor_code + 0x2000
    builder.map(supervisor_code, CODE_PA, 0b0100_1001)  # V X A
    builder.map(user_code, CODE_PA + 0x2000, 0b0101_1001)  # V X U A
    for page in (CODE_PA, CODE_PA + 0x2000):
        memory.write(page, 4, LD_A0_A1)
        memory.write(page + 4, 4, SD_A0_A1)
    used = builder.next_table - RAM
    qemu.load(memory, used)
    qemu.uc.mem_write(CODE_PA, memory.read_bytes(CODE_PA, 0x3000))
    for number, ((value, raw), access, privilege, sum_, mxr) in enumerate(accesses):
        if access is Access.FETCH:
            continue
        va = value if raw or not vas else (vas[number % len(vas)] + value) % 2**64
        va &= ~7  # aligned: QEMU 5.0 does not trap misaligned accesses
        context = RiscvContext(privilege, sum_, mxr, AdPolicy.HARDWARE, qemu_5_0=True)
        ours = walk(mode, builder.root, va, access, context, memory)
        code = user_code if privilege == Privilege.USER else supervisor_code
        theirs = qemu.execute(mode, builder.root, code + 4 * (access == Access.STORE), va, context)
        expected = (
            ("trap", ours.cause)
            if isinstance(ours, PageFault)
            else ("memory", ours.physical_address)
        )
        assert expected == theirs, (hex(va), access, context, ours)
        assert memory.read_bytes(RAM, used) == qemu.read_bytes(used), "A/D bits differ"


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=_scenario(), accesses=_ACCESSES)
def test_executed_loads_and_stores_agree_with_qemu(
    qemu: _QemuRiscv, scenario: _Scenario, accesses: list[_AccessCase]
) -> None:
    """The same comparison through real ``ld``/``sd`` instructions executed at S or U
    mode: the physical address the memory hook saw, or the trap cause."""
    _check_execution(qemu, scenario, accesses)


@pytest.mark.soak
@pytest.mark.timeout(1800)
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=_scenario(), accesses=_ACCESSES)
def test_executed_loads_and_stores_agree_with_qemu_soak(
    qemu: _QemuRiscv, scenario: _Scenario, accesses: list[_AccessCase]
) -> None:
    _check_execution(qemu, scenario, accesses)
