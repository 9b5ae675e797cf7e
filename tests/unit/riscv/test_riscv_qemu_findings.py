"""Regression tests for what a comparison with QEMU (Unicorn 2.1.4) found (issue 10), in
every tier: exact instruction limits with a trap just past them, hpmcounter3-31, writes to
misa, satp with Sv48/Sv57, and misaligned stores that cross into an unmapped page."""

from __future__ import annotations

import pytest

from vmcore_domain_services.execution import HaltReason
from vmcore_domain_services.mmu import SV39, SV48, SV57, PageTableBuilder, PagingMode
from vmcore_domain_services.mmu.access import Privilege
from vmcore_domain_services.riscv.asm import assemble, encode, li
from vmcore_domain_services.riscv.csr import Csr

from .conftest import CODE, DATA, Build  # type: ignore[import-not-found]

HANDLER = CODE + 0x800
V, R, W, X, A, D = 1, 2, 4, 8, 64, 128
ILLEGAL_INSTRUCTION = 2
ECALL_FROM_M = 11


@pytest.mark.parametrize("limit", [1, 2])
def test_a_trap_just_past_the_limit_is_not_taken(build: Build, limit: int) -> None:
    """``addi; addi; ecall`` with mtvec set and a limit of 2 ends at the ecall, untaken,
    as in the interpreter and QEMU (the translated tier used to trap to mtvec)."""
    machine = build([encode("addi", 5, 5, imm=1), encode("addi", 6, 6, imm=1), encode("ecall")])
    machine.hart.csr.write(Csr.MTVEC, HANDLER, Privilege.M)
    result = machine.run(limit)
    expected = (HaltReason.LIMIT, limit, CODE + 4 * limit, 0, [1, limit - 1])
    assert expected == (
        result.reason,
        result.instructions,
        machine.hart.pc,
        machine.hart.csr.values[Csr.MCAUSE],
        machine.hart.x[5:7],
    )


def test_the_trap_is_taken_when_the_limit_reaches_it(build: Build) -> None:
    machine = build([encode("addi", 5, 5, imm=1), encode("addi", 6, 6, imm=1), encode("ecall")])
    machine.memory.write_bytes(HANDLER, assemble([encode("addi", 7, 7, imm=1)]))
    machine.hart.csr.write(Csr.MTVEC, HANDLER, Privilege.M)
    machine.run(2)
    result = machine.run(1)  # the ecall does not retire: the handler's first one does
    values = machine.hart.csr.values
    stopped = (result.reason, result.instructions, machine.hart.pc, machine.hart.x[7])
    assert (HaltReason.LIMIT, 1, HANDLER + 4, 1) == stopped
    assert (ECALL_FROM_M, CODE + 8, 3) == (values[Csr.MCAUSE], values[Csr.MEPC], machine.instret)


@pytest.mark.parametrize("priv", [Privilege.U, Privilege.S, Privilege.M])
@pytest.mark.parametrize("number", [0xC03, 0xC10, 0xC1F])
def test_hpmcounters_read_zero_at_every_privilege(build: Build, priv: int, number: int) -> None:
    machine = build([encode("csrrs", 5, 0, imm=number), encode("ebreak")])
    machine.hart.x[5] = 0xDEAD
    machine.hart.csr.write(0xB00 + (number & 0x1F), 1234, Privilege.M)  # mhpmcounterN: hardwired
    machine.hart.set_priv(priv)
    result = machine.run(10)
    assert (HaltReason.FAULT, 3, 0) == (result.reason, result.cause, machine.hart.x[5])


def test_hpmcounters_are_read_only(build: Build) -> None:
    machine = build([encode("csrrw", 0, 5, imm=0xC03)])
    result = machine.run(10)
    assert (HaltReason.FAULT, ILLEGAL_INSTRUCTION) == (result.reason, result.cause)


@pytest.mark.parametrize("op", ["csrrw", "csrrs", "csrrc"])
def test_a_write_to_misa_is_ignored_and_does_not_trap(build: Build, op: str) -> None:
    machine = build([*li(6, 1 << 5), encode(op, 5, 6, imm=Csr.MISA),
                     encode("csrrs", 7, 0, imm=Csr.MISA), encode("ebreak")])  # fmt: skip
    result = machine.run(100)
    assert (HaltReason.FAULT, 3) == (result.reason, result.cause)  # the ebreak, not the write
    assert machine.hart.x[5] == machine.hart.x[7] != 0


@pytest.mark.parametrize(("mode", "number"), [(SV39, 8), (SV48, 9), (SV57, 10)])
def test_satp_takes_every_mode_the_mmu_walks(build: Build, mode: PagingMode, number: int) -> None:
    """``csrw satp`` with Sv48 or Sv57, then S-mode code loads through that mode's tables."""
    va = 0x1_2345_6000 if mode.levels > 3 else 0x2345_6000
    machine = build([])
    builder = PageTableBuilder(mode, machine.memory, CODE + 0x4_0000)
    builder.map(CODE, CODE, V | R | X | A)
    builder.map(va, DATA, V | R | W | A | D)
    machine.memory.write(DATA + 8, 8, 0x1122_3344_5566_7788)
    satp = number << 60 | builder.root >> 12
    s_code = CODE + 4 * 32
    prologue = [*li(9, satp), encode("csrrw", 0, 9, imm=Csr.SATP), encode("csrrs", 10, 0,
                imm=Csr.SATP), *li(11, 1 << 11), encode("csrrs", 0, 11, imm=Csr.MSTATUS),
                *li(12, s_code), encode("csrrw", 0, 12, imm=Csr.MEPC), encode("mret")]  # fmt: skip
    body = [*li(13, va), encode("ld", 14, 13, imm=8), encode("ebreak")]
    padding = [encode("addi", 0, 0, imm=0)] * (32 - len(prologue))
    machine.memory.write_bytes(CODE, assemble(prologue + padding + body))
    result = machine.run(1000)
    assert (HaltReason.FAULT, 3, Privilege.S) == (result.reason, result.cause, machine.hart.priv)
    assert (satp, 0x1122_3344_5566_7788) == (machine.hart.x[10], machine.hart.x[14])


@pytest.mark.parametrize("mode", [1, 7, 11, 15])
def test_satp_ignores_a_write_of_an_unsupported_mode(build: Build, mode: int) -> None:
    machine = build([])
    machine.hart.csr.write(Csr.SATP, 8 << 60 | 0x80040, Privilege.M)
    machine.hart.csr.write(Csr.SATP, mode << 60 | 0x12345, Privilege.M)
    assert 8 << 60 | 0x80040 == machine.hart.csr.read(Csr.SATP, Privilege.M)


@pytest.mark.parametrize(("name", "size"), [("sd", 8), ("sw", 4), ("sh", 2)])
def test_a_misaligned_store_into_an_unmapped_page_writes_nothing(
    build: Build, name: str, size: int
) -> None:
    """``sd`` at VA 0x4000_0FFC, the page after it unmapped: a store page fault with the
    second page as tval, and not one byte written (QEMU writes nothing)."""
    machine = build([])
    builder = PageTableBuilder(SV39, machine.memory, CODE + 0x4_0000)
    builder.map(CODE, CODE, V | R | X | A)
    builder.map(0x4000_0000, DATA, V | R | W | A | D)
    va = 0x4000_1000 - size // 2
    words = [*li(5, va), *li(6, 0x0102_0304_0506_0708), encode(name, 0, 5, 6), encode("ebreak")]
    machine.memory.write_bytes(CODE, assemble(words))
    machine.memory.write_bytes(DATA + 0xFF0, b"\xaa" * 16)
    machine.hart.csr.write(Csr.SATP, 8 << 60 | builder.root >> 12, Privilege.M)
    machine.hart.set_priv(Privilege.S)
    result = machine.run(100)
    assert (HaltReason.FAULT, 15, 0x4000_1000) == (result.reason, result.cause, result.tval)
    assert b"\xaa" * 16 == machine.memory.read_bytes(DATA + 0xFF0, 16)
