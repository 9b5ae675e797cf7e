# mypy: disable-error-code="no-untyped-call"
"""Every CSR number at every privilege, read and written, against Unicorn 2.1.4 (QEMU 5.0).

Each case is one real instruction (``csrrs x6, csr, x0`` or ``csrrw x0, csr, x5``) run on
both sides from M, S or U mode; both must agree on whether it raises illegal instruction,
and for the registers whose values do not depend on the implementation (the hpm counters
and events, the scratch registers) on the value read. QEMU 5.0 implements privileged spec
1.11 and we implement 1.12, which adds CSRs: :data:`SPEC_1_12_ONLY` lists those, the only
numbers allowed to differ.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from unicorn.riscv_const import (
    UC_RISCV_REG_MSTATUS,
    UC_RISCV_REG_PRIV,
    UC_RISCV_REG_X5,
    UC_RISCV_REG_X6,
)
from unicorn.unicorn_const import UC_ARCH_RISCV, UC_HOOK_INTR, UC_MODE_RISCV64
from unicorn.unicorn_py3.unicorn import Uc

from vmcore_domain_services.execution import HaltReason, Machine, TieringPolicy
from vmcore_domain_services.mmu.access import Privilege
from vmcore_domain_services.riscv.asm import assemble, encode
from vmcore_domain_services.riscv.csr import Csr

CODE = 0x8000_0000
NOP = encode("addi", 0, 0, imm=0)
Outcome = tuple[str, int]  # ("trap", cause) or ("ok", value read)

SPEC_1_12_ONLY = frozenset(
    {Csr.SENVCFG, Csr.MENVCFG, Csr.MCOUNTINHIBIT, Csr.MCONFIGPTR, Csr.TIME}
    | set(range(0x3A4, 0x3B0))  # pmpcfg4-15 (1.12 has 64 PMP entries, 1.11 had 16)
    | set(range(0x3C0, 0x3F0))  # pmpaddr16-63
)
"""CSRs of privileged spec 1.12 that QEMU 5.0 (1.11) lacks; ``time`` is there too: QEMU
reads it from a platform timer Unicorn does not have, we read the CLINT's mtime."""
SPEC_1_11_ONLY = frozenset({0x321})
"""``mscounteren`` of privileged spec 1.9.1, which QEMU 5.0 still answers; 1.12 has none."""
COMPARED_VALUES = frozenset(
    {*range(0xB03, 0xB20), *range(0xC03, 0xC20), *range(0x323, 0x340), Csr.MSCRATCH,
     Csr.SSCRATCH}
)  # fmt: skip
"""Whose values must match too: hardwired zero (hpm) or written by the case (scratch)."""


class _Qemu:
    def __init__(self) -> None:
        self.uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
        self.uc.mem_map(CODE, 0x1000)
        self.traps: list[int] = []
        self.uc.hook_add(UC_HOOK_INTR, self._on_interrupt)

    def _on_interrupt(self, uc: Uc, cause: int, data: object) -> None:
        self.traps.append(cause)
        uc.emu_stop()

    def run(self, word: int, priv: int, value: int) -> Outcome:
        uc = self.uc
        uc.mem_write(CODE, assemble([word, NOP, NOP]))
        uc.ctl_flush_tb()
        uc.reg_write(UC_RISCV_REG_PRIV, Privilege.M)  # CSR writes are checked at the privilege
        uc.reg_write(UC_RISCV_REG_MSTATUS, 0)
        uc.reg_write(UC_RISCV_REG_PRIV, priv)
        uc.reg_write(UC_RISCV_REG_X5, value)
        uc.reg_write(UC_RISCV_REG_X6, 0)
        self.traps.clear()
        uc.emu_start(CODE, CODE + 8, count=1)
        return ("trap", self.traps[0]) if self.traps else ("ok", uc.reg_read(UC_RISCV_REG_X6))


class _Ours:
    def __init__(self) -> None:
        self.machine = Machine(1 << 16, console=lambda b: None, tiering=TieringPolicy(False))

    def run(self, word: int, priv: int, value: int) -> Outcome:
        machine, hart = self.machine, self.machine.hart
        machine.memory.write_bytes(CODE, assemble([word]))
        hart.set_priv(Privilege.M)
        hart.csr.write(Csr.MSTATUS, 0, Privilege.M)
        hart.set_priv(priv)
        hart.pc = CODE
        hart.x[5], hart.x[6] = value, 0
        result = machine.run(1)
        if result.reason is HaltReason.FAULT:
            assert result.cause is not None
            return "trap", result.cause
        return "ok", hart.x[6]


@pytest.fixture(scope="module")
def sides() -> Iterator[tuple[_Qemu, _Ours]]:
    yield _Qemu(), _Ours()


def _agree(number: int, theirs: Outcome, ours: Outcome) -> bool:
    if number in SPEC_1_12_ONLY | SPEC_1_11_ONLY:
        return True
    if number in COMPARED_VALUES or theirs[0] == "trap":
        return theirs == ours
    return ours[0] == "ok"


@pytest.mark.parametrize("priv", [Privilege.U, Privilege.S, Privilege.M], ids=["U", "S", "M"])
@pytest.mark.parametrize("write", [False, True], ids=["read", "write"])
def test_every_csr_number_traps_or_reads_as_in_qemu(
    sides: tuple[_Qemu, _Ours], priv: int, write: bool
) -> None:
    qemu, ours = sides
    disagree = []
    for number in range(4096):
        word = encode("csrrw", 0, 5, imm=number) if write else encode("csrrs", 6, 0, imm=number)
        value = 0x5A5A if number in (Csr.MSCRATCH, Csr.SSCRATCH) else 0
        theirs, mine = qemu.run(word, priv, value), ours.run(word, priv, value)
        if not _agree(number, theirs, mine):
            disagree.append((hex(number), theirs, mine))
    assert [] == disagree


@pytest.mark.parametrize("mode", range(16))
def test_satp_keeps_the_modes_qemu_keeps(sides: tuple[_Qemu, _Ours], mode: int) -> None:
    """Bare, Sv39, Sv48 and Sv57 are taken; a write of any other MODE changes nothing."""
    qemu, ours = sides
    value = mode << 60 | 0x8_0010
    for side in (qemu, ours):
        side.run(encode("csrrw", 0, 5, imm=Csr.SATP), Privilege.M, 0)
        side.run(encode("csrrw", 0, 5, imm=Csr.SATP), Privilege.M, value)
    read = encode("csrrs", 6, 0, imm=Csr.SATP)
    assert qemu.run(read, Privilege.M, 0) == ours.run(read, Privilege.M, 0)
