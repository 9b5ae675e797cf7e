# mypy: disable-error-code="no-untyped-call"
"""Our x86-64 4-level walker against QEMU 5.0's (Unicorn 2.1.4, Broadwell model).

QEMU walks through ``uc_vmem_translate`` at the CPL, CR0.WP, CR4.SMEP/SMAP, EFER.NXE and
EFLAGS.AC we set. CPL 3 is reached once by executing a real ``sysretq``; that state is
saved and restored per case. On a fault we compare the #PF error code, which QEMU leaves
in ``env->error_code``: Unicorn does not expose it, so the fixture finds its offset in the
saved CPU context from faults whose codes are known (and the search must find exactly one).
"""

from __future__ import annotations

import contextlib
import ctypes
import struct
from collections.abc import Iterator

import pytest
from attrs import evolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from unicorn.unicorn_const import (
    UC_ARCH_X86,
    UC_CTL_IO_WRITE,
    UC_CTL_TLB_FLUSH,
    UC_HOOK_INTR,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_UNMAPPED,
    UC_HOOK_MEM_WRITE,
    UC_MODE_64,
    UC_PROT_EXEC,
    UC_PROT_READ,
    UC_PROT_WRITE,
)
from unicorn.unicorn_py3.arch.intel import UcIntel
from unicorn.unicorn_py3.unicorn import Uc, UcContext, UcError
from unicorn.x86_const import (
    UC_CPU_X86_BROADWELL,
    UC_X86_REG_CR0,
    UC_X86_REG_CR2,
    UC_X86_REG_CR3,
    UC_X86_REG_CR4,
    UC_X86_REG_EFLAGS,
    UC_X86_REG_R11,
    UC_X86_REG_RBX,
    UC_X86_REG_RCX,
    UC_X86_REG_RIP,
)

from tests.differential.mmu.targets import ACCESS_TARGETS, X86_CONTEXTS
from tests.oracles.unicorn import unicorn_vmem_translate
from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import (
    X86_64_4LEVEL,
    Access,
    PageFault,
    PageTableBuilder,
    X86Context,
    walk,
)

RAM = 0x10_0000
RAM_SIZE = 1 << 20
SETUP = 0x20_0000
SETUP_SIZE = 0x10_0000
UC_PROT = {Access.FETCH: UC_PROT_EXEC, Access.LOAD: UC_PROT_READ, Access.STORE: UC_PROT_WRITE}
EFER = 0xC000_0080
STAR = 0xC000_0081
EFER_SCE, EFER_LME, EFER_LMA, EFER_NXE = 1, 1 << 8, 1 << 10, 1 << 11
CR0_PE, CR0_WP, CR0_PG = 1, 1 << 16, 1 << 31
CR4_PAE, CR4_SMEP, CR4_SMAP = 1 << 5, 1 << 20, 1 << 21
EFLAGS_AC = 1 << 18
P, RW, US, PS = 1, 2, 4, 1 << 7

uc_vmem_translate = unicorn_vmem_translate()


class _QemuX86:
    def __init__(self) -> None:
        uc = Uc(UC_ARCH_X86, UC_MODE_64)
        assert isinstance(uc, UcIntel)
        self.uc = uc
        uc.ctl_set_cpu_model(UC_CPU_X86_BROADWELL)
        uc.mem_map(RAM, RAM_SIZE)
        uc.mem_map(SETUP, 0x10_0000)
        setup_memory = GuestMemory(0x10_0000, SETUP)
        builder = PageTableBuilder(X86_64_4LEVEL, setup_memory, SETUP + 0x1000)
        builder.map(0x40_0000, SETUP, P | RW | US)  # code page, user and supervisor
        setup_memory.write_bytes(SETUP, b"\x48\x0f\x07" + b"\x90" * 32)  # sysretq; nops
        uc.mem_write(SETUP, setup_memory.read_bytes(SETUP, 0x10_0000))
        self._configure(builder.root, X86Context(wp=True, nxe=True))
        self.kernel = uc.context_save()
        uc.msr_write(STAR, (0x10 << 48) | (0x08 << 32))
        uc.reg_write(UC_X86_REG_RCX, 0x40_0010)
        uc.reg_write(UC_X86_REG_R11, 0x2)
        uc.emu_start(0x40_0000, 0x40_0010)
        assert uc.reg_read(UC_X86_REG_RIP) == 0x40_0010
        self.user = uc.context_save()
        self.error_code_offset = self._find_error_code_offset()
        self.seen: list[tuple[int, ...]] = []
        uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, self._on_memory)
        uc.hook_add(UC_HOOK_MEM_UNMAPPED, self._on_unmapped)
        uc.hook_add(UC_HOOK_INTR, self._on_interrupt)

    def _on_memory(
        self, uc: Uc, kind: int, address: int, size: int, value: int, data: object
    ) -> None:
        self.seen.append((address,))

    def _on_unmapped(
        self, uc: Uc, kind: int, address: int, size: int, value: int, data: object
    ) -> bool:
        self.seen.append((address,))
        return False

    def _on_interrupt(self, uc: Uc, vector: int, data: object) -> None:
        self.seen.append((vector, self._error_code(), uc.reg_read(UC_X86_REG_CR2)))
        uc.emu_stop()

    def execute(self, root: int, pc: int, va: int, context: X86Context) -> tuple[int, ...]:
        """Run the one ``mov`` at ``pc`` with rbx = ``va``: (physical address,) or
        (vector, error code, CR2)."""
        self.uc.context_restore(self.user if context.cpl == 3 else self.kernel)
        self._configure(root, context)
        self.uc.reg_write(UC_X86_REG_CR2, 0)
        self.uc.reg_write(UC_X86_REG_RBX, va)
        self.seen.clear()
        with contextlib.suppress(UcError):  # an unmapped target: the hook saw its address
            self.uc.emu_start(pc, pc + 0x100, count=1)
        return self.seen[0] if self.seen else ()

    def _configure(self, root: int, context: X86Context) -> None:
        uc = self.uc
        cr4 = CR4_PAE | (CR4_SMEP if context.smep else 0) | (CR4_SMAP if context.smap else 0)
        uc.reg_write(UC_X86_REG_CR4, cr4)
        efer = EFER_SCE | EFER_LME | EFER_LMA | (EFER_NXE if context.nxe else 0)
        uc.msr_write(EFER, efer)
        uc.reg_write(UC_X86_REG_CR3, root)
        uc.reg_write(UC_X86_REG_CR0, CR0_PE | CR0_PG | (CR0_WP if context.wp else 0))
        eflags = uc.reg_read(UC_X86_REG_EFLAGS)
        uc.reg_write(
            UC_X86_REG_EFLAGS, (eflags | EFLAGS_AC) if context.ac else (eflags & ~EFLAGS_AC)
        )
        uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def translate(
        self, root: int, va: int, access: Access, context: X86Context
    ) -> tuple[int | None, int, int]:
        """(physical address or None, error code, CR2)."""
        self.uc.context_restore(self.user if context.cpl == 3 else self.kernel)
        self._configure(root, context)
        self.uc.reg_write(UC_X86_REG_CR2, 0)
        pa = ctypes.c_uint64()
        err = uc_vmem_translate(self.uc._uch, va, UC_PROT[access], ctypes.byref(pa))
        code = self._error_code() if err else 0
        return (None if err else pa.value), code, self.uc.reg_read(UC_X86_REG_CR2)

    def _context_bytes(self) -> bytes:
        saved: UcContext = self.uc.context_save()
        return ctypes.string_at(saved.context, saved.size)

    def _error_code(self) -> int:
        return int(struct.unpack_from("<I", self._context_bytes(), self.error_code_offset)[0])

    def _find_error_code_offset(self) -> int:
        memory = GuestMemory(RAM_SIZE, RAM)
        builder = PageTableBuilder(X86_64_4LEVEL, memory, RAM)
        builder.map(0x4000_0000, 0x9000_0000, P)
        builder.map(0x6000_0000, 0x9000_0000, P | (1 << 45))
        self.uc.mem_write(RAM, memory.read_bytes(RAM, builder.next_table - RAM))
        kernel = X86Context(smep=True, nxe=True)
        user = X86Context(cpl=3, nxe=True)
        known = [
            (0x5000_0000, Access.LOAD, kernel, 0x0),
            (0x5000_0000, Access.STORE, kernel, 0x2),
            (0x4000_0000, Access.STORE, kernel, 0x3),
            (0x5000_0000, Access.FETCH, kernel, 0x10),
            (0x6000_0000, Access.LOAD, kernel, 0x9),
            (0x6000_0000, Access.STORE, kernel, 0xB),
            (0x4000_0000, Access.LOAD, user, 0x5),
            (0x5000_0000, Access.FETCH, user, 0x14),
        ]
        snapshots = []
        for va, access, context, code in known:
            self.uc.context_restore(self.user if context.cpl == 3 else self.kernel)
            self._configure(builder.root, context)
            pa = ctypes.c_uint64()
            assert uc_vmem_translate(self.uc._uch, va, UC_PROT[access], ctypes.byref(pa))
            snapshots.append((self._context_bytes(), code))
        size = len(snapshots[0][0])
        offsets = [
            offset
            for offset in range(0, size - 3, 4)
            if all(struct.unpack_from("<I", raw, offset)[0] == code for raw, code in snapshots)
        ]
        assert len(offsets) == 1, offsets
        return offsets[0]


@pytest.fixture(scope="module")
def qemu() -> Iterator[_QemuX86]:
    yield _QemuX86()


_INDEX = st.sampled_from([0, 1, 2, 255, 256, 511])
_LEAF_FLAGS = st.builds(
    lambda low, nx, high: low | (nx << 63) | high,
    st.tuples(st.integers(0, 0x1FF), st.integers(0, 7)).map(
        lambda pair: (pair[0] & ~PS) | (P if pair[1] else 0)  # present 7 times in 8
    ),
    st.sampled_from([0, 0, 0, 1]),  # NX (reserved unless EFER.NXE)
    st.sampled_from([0, 0, 0, 0, 0, 0, 1 << 45, 1 << 13]),
)


@st.composite
def _scenario(draw: st.DrawFn) -> tuple[GuestMemory, PageTableBuilder, list[int]]:
    mode = X86_64_4LEVEL
    memory = GuestMemory(RAM_SIZE, RAM)
    table_flags = draw(st.sampled_from([P | RW | US] * 4 + [P | RW, P | US, P]))
    builder = PageTableBuilder(mode, memory, RAM, table_flags)
    vas: list[int] = []
    for _ in range(draw(st.integers(1, 6))):
        level = draw(st.sampled_from([0, 0, 1, 2]))
        va = 0
        for current in range(mode.levels - 1, level - 1, -1):
            va |= draw(_INDEX) << mode.page_shift_at(current)
        if va >> 47:
            va |= 0xFFFF_0000_0000_0000
        shift = mode.page_shift_at(level)
        pa = draw(st.integers(0, (1 << (40 - shift)) - 1)) << shift
        try:
            builder.map(va, pa, draw(_LEAF_FLAGS), level)
        except ValueError:
            continue
        vas.append(va)
    for _ in range(draw(st.integers(0, 2))):  # flip bits in an entry above some leaf
        if not vas:
            break
        va = draw(st.sampled_from(vas))
        level = draw(st.integers(1, mode.levels - 1))
        address = _entry_address(memory, builder.root, va, level)
        if address is not None:
            flip = draw(st.sampled_from([P, RW, US, PS, 1 << 63, 1 << 5]))
            memory.write(address, 8, memory.read(address, 8) ^ flip)
    return memory, builder, vas


def _entry_address(memory: GuestMemory, root: int, va: int, level: int) -> int | None:
    table = root
    for current in range(3, level, -1):
        entry = memory.read(table + X86_64_4LEVEL.index(va, current) * 8, 8)
        if not entry & P or (current < 3 and entry & PS):
            return None
        table = entry & 0x000F_FFFF_FFFF_F000
        if not memory.in_ram(table, 4096):
            return None
    return table + X86_64_4LEVEL.index(va, level) * 8


_ACCESSES = st.lists(
    st.tuples(
        ACCESS_TARGETS,
        st.sampled_from(list(Access)),
        X86_CONTEXTS,
    ),
    min_size=1,
    max_size=4,
)


def _mirror_setup_region(memory: GuestMemory, qemu: _QemuX86) -> None:
    """Give our model QEMU's other physical region too (its setup tables and code), so a
    walk that a broken entry sends there reads the same bytes on both sides."""
    setup = bytearray(qemu.uc.mem_read(SETUP, SETUP_SIZE))

    def read(offset: int, size: int) -> int:
        return int.from_bytes(setup[offset:offset + size], "little")

    def write(offset: int, size: int, value: int) -> None:
        setup[offset:offset + size] = value.to_bytes(size, "little")

    with contextlib.suppress(KeyError):
        memory.unmap_mmio(SETUP)  # the same scenario checked again
    memory.map_mmio(SETUP, SETUP_SIZE, read, write)


def _check(
    qemu: _QemuX86,
    scenario: tuple[GuestMemory, PageTableBuilder, list[int]],
    accesses: list[tuple[tuple[int, bool], Access, X86Context]],
) -> None:
    memory, builder, vas = scenario
    used = builder.next_table - RAM
    qemu.uc.mem_write(RAM, memory.read_bytes(RAM, used))
    _mirror_setup_region(memory, qemu)
    for number, ((value, raw), access, context) in enumerate(accesses):
        va = value if raw or not vas else (vas[number % len(vas)] + value) % 2**64
        ours = walk(X86_64_4LEVEL, builder.root, va, access, evolve(context, qemu_5_0=True), memory)
        pa, code, cr2 = qemu.translate(builder.root, va, access, context)
        expected: tuple[int | None, int, int]
        if isinstance(ours, PageFault):
            expected = (None, ours.error_code, va if ours.cause == 14 else 0)
        else:
            expected = (ours.physical_address, 0, 0)
        assert expected == (pa, code, cr2), (hex(va), access, context, ours)
        assert memory.read_bytes(RAM, used) == bytes(qemu.uc.mem_read(RAM, used)), "A/D differ"


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=_scenario(), accesses=_ACCESSES)
def test_walks_agree_with_qemu(
    qemu: _QemuX86,
    scenario: tuple[GuestMemory, PageTableBuilder, list[int]],
    accesses: list[tuple[tuple[int, bool], Access, X86Context]],
) -> None:
    _check(qemu, scenario, accesses)


@pytest.mark.soak
@pytest.mark.timeout(1800)
@settings(max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=_scenario(), accesses=_ACCESSES)
def test_walks_agree_with_qemu_soak(
    qemu: _QemuX86,
    scenario: tuple[GuestMemory, PageTableBuilder, list[int]],
    accesses: list[tuple[tuple[int, bool], Access, X86Context]],
) -> None:
    _check(qemu, scenario, accesses)


CODE_VA = 3 << 39  # PML4 index 3: never generated by _scenario
CODE_TABLES = RAM + 0xC_0000
CODE_PA = RAM + 0xF_0000
MOV_RAX_FROM_RBX = bytes([0x48, 0x8B, 0x03])  # mov rax, [rbx]
MOV_RAX_TO_RBX = bytes([0x48, 0x89, 0x03])  # mov [rbx], rax
A = 1 << 5


def _check_execution(
    qemu: _QemuX86,
    scenario: tuple[GuestMemory, PageTableBuilder, list[int]],
    accesses: list[tuple[tuple[int, bool], Access, X86Context]],
) -> None:
    memory, builder, vas = scenario
    code = PageTableBuilder(X86_64_4LEVEL, memory, CODE_TABLES, P | RW | US | A)
    code.map(CODE_VA, CODE_PA, P | A)  # supervisor code
    code.map(CODE_VA + 0x2000, CODE_PA + 0x2000, P | US | A)  # user code
    memory.write(builder.root + 3 * 8, 8, memory.read(code.root + 3 * 8, 8))
    for page in (CODE_PA, CODE_PA + 0x2000):
        memory.write_bytes(page, MOV_RAX_FROM_RBX + MOV_RAX_TO_RBX)
    qemu.uc.mem_write(RAM, memory.read_bytes(RAM, RAM_SIZE))
    _mirror_setup_region(memory, qemu)
    used = builder.next_table - RAM
    for number, ((value, raw), access, context) in enumerate(accesses):
        if access is Access.FETCH:
            continue
        va = value if raw or not vas else (vas[number % len(vas)] + value) % 2**64
        va &= ~7
        ours = walk(X86_64_4LEVEL, builder.root, va, access, evolve(context, qemu_5_0=True), memory)
        pc = CODE_VA + (0x2000 if context.cpl == 3 else 0) + (3 if access == Access.STORE else 0)
        theirs = qemu.execute(builder.root, pc, va, context)
        expected: tuple[int, ...]
        if isinstance(ours, PageFault):
            expected = (ours.cause, ours.error_code, va if ours.cause == 14 else 0)
        else:
            expected = (ours.physical_address,)
        assert expected == theirs, (hex(va), access, context, ours)
        assert memory.read_bytes(RAM, used) == bytes(qemu.uc.mem_read(RAM, used)), "A/D differ"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=_scenario(), accesses=_ACCESSES)
def test_executed_loads_and_stores_agree_with_qemu(
    qemu: _QemuX86,
    scenario: tuple[GuestMemory, PageTableBuilder, list[int]],
    accesses: list[tuple[tuple[int, bool], Access, X86Context]],
) -> None:
    """The same comparison through real ``mov`` instructions executed at CPL 0 or 3: the
    physical address the memory hook saw, or the vector, error code and CR2."""
    _check_execution(qemu, scenario, accesses)


@pytest.mark.soak
@pytest.mark.timeout(1800)
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=_scenario(), accesses=_ACCESSES)
def test_executed_loads_and_stores_agree_with_qemu_soak(
    qemu: _QemuX86,
    scenario: tuple[GuestMemory, PageTableBuilder, list[int]],
    accesses: list[tuple[tuple[int, bool], Access, X86Context]],
) -> None:
    _check_execution(qemu, scenario, accesses)
