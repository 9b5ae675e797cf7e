# mypy: disable-error-code="no-untyped-call"
"""Run one RV64 program on Unicorn 2.1.4 (QEMU 5.0) and on our machine, from the same state.

Programs live at ``CODE`` and end with ``ebreak`` at a known address; ``x31`` points at a
4 KiB data page. Each side returns its final registers x1..x31, pc and data page. With
``paged`` (the number of levels: 3 Sv39, 4 Sv48, 5 Sv57) both run in S-mode with paging on:
the code through an identity gigapage, the data page at virtual ``DATA_VA`` through a 4 KiB
leaf (page tables at ``TABLES``; Sv48 and Sv57 put their extra roots above Sv39's).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import strategies as st
from unicorn.riscv_const import (
    UC_RISCV_REG_MSTATUS,
    UC_RISCV_REG_PC,
    UC_RISCV_REG_PRIV,
    UC_RISCV_REG_SATP,
    UC_RISCV_REG_X1,
)
from unicorn.unicorn_const import UC_ARCH_RISCV, UC_MODE_RISCV64
from unicorn.unicorn_py3.unicorn import Uc

from vmcore_domain_services.execution import HaltReason, Machine, TieringPolicy
from vmcore_domain_services.mmu.access import Privilege
from vmcore_domain_services.riscv.asm import assemble, encode
from vmcore_domain_services.riscv.csr import Csr

CODE = 0x8000_0000
DATA = 0x8001_0000
DATA_VA = 0x4000_0000
TABLES = 0x8002_0000
SATP = 8 << 60 | TABLES >> 12
TABLE_BYTES = 0x5000
M64 = (1 << 64) - 1
Outcome = tuple[tuple[int, ...], int, bytes]
Runner = Callable[..., Outcome]


def page_tables(levels: int = 3) -> list[tuple[int, bytes]]:
    """(physical address, 8-byte PTE) pairs: root, level 1, level 0 (and for Sv48, Sv57 one
    or two roots above, whose entry 0 points at the Sv39 root)."""
    v, r, w, x, a, d = 1, 2, 4, 8, 64, 128

    def pte(pa: int, flags: int) -> bytes:
        return ((pa >> 12) << 10 | flags).to_bytes(8, "little")

    root, l1, l0 = TABLES, TABLES + 0x1000, TABLES + 0x2000
    tables = [
        (root + 2 * 8, pte(CODE, v | r | w | x | a | d)),
        (root + 1 * 8, pte(l1, v)),
        (l1, pte(l0, v)),
        (l0, pte(DATA, v | r | w | a | d)),
    ]
    for extra in range(levels - 3):
        tables.append((TABLES + 0x3000 + 0x1000 * extra, pte(TABLES + 0x2000 + 0x1000 * extra
                       if extra else TABLES, v)))  # fmt: skip
    return tables


def satp(levels: int = 3) -> int:
    """satp for :func:`page_tables` of that many levels."""
    root = TABLES if levels == 3 else TABLES + 0x3000 + 0x1000 * (levels - 4)
    return (levels + 5) << 60 | root >> 12


TIERS = {
    "interpreter": TieringPolicy(translate=False),
    "translated": TieringPolicy(hot_threshold=1),
    "translated-unoptimised": TieringPolicy(hot_threshold=1, passes=()),
}

SPECIAL = [0, 1, 2, M64, M64 - 1, 1 << 63, (1 << 63) - 1, 0x8000_0000, 0x7FFF_FFFF, 0xFFFF_FFFF]
values = st.one_of(
    st.sampled_from(SPECIAL),
    st.integers(0, 64),
    st.integers(0, M64),
    st.integers(1 << 31, M64),
    st.integers(1 << 63, M64),
)
"""Register values: corner cases, small, and large (where overflow and sign matter)."""


def _unicorn(
    words: list[int], regs: list[int], data: bytes, count: int | None, paged: int = 0
) -> Outcome:
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(CODE, 0x10000)
    uc.mem_map(DATA, 0x1000)
    if paged:
        uc.mem_map(TABLES, TABLE_BYTES)
        for address, pte in page_tables(paged):
            uc.mem_write(address, pte)
        uc.reg_write(UC_RISCV_REG_PRIV, 3)
        uc.reg_write(UC_RISCV_REG_SATP, satp(paged))
        status = uc.reg_read(UC_RISCV_REG_MSTATUS)
        uc.reg_write(UC_RISCV_REG_MSTATUS, status & ~(3 << 11) | 1 << 11)
        uc.reg_write(UC_RISCV_REG_PRIV, 1)
    code = assemble([*words, encode("ebreak")])
    uc.mem_write(CODE, code)
    uc.mem_write(DATA, data)
    for i, v in enumerate(regs, start=1):
        uc.reg_write(UC_RISCV_REG_X1 + i - 1, v)
    end = CODE + 4 * len(words)
    uc.emu_start(CODE, end, count=count or 0)
    out = tuple(uc.reg_read(UC_RISCV_REG_X1 + i) & M64 for i in range(31))
    return out, uc.reg_read(UC_RISCV_REG_PC), bytes(uc.mem_read(DATA, 0x1000))


def _ours(tiering: TieringPolicy) -> Runner:
    def run(
        words: list[int], regs: list[int], data: bytes, count: int | None, paged: int = 0
    ) -> Outcome:
        machine = Machine(1 << 20, console=lambda b: None, tiering=tiering)
        machine.memory.write_bytes(CODE, assemble([*words, encode("ebreak")]))
        machine.memory.write_bytes(DATA, data)
        machine.hart.x[1:] = regs
        machine.hart.pc = CODE
        if paged:
            for address, pte in page_tables(paged):
                machine.memory.write_bytes(address, pte)
            machine.hart.csr.write(Csr.SATP, satp(paged), Privilege.M)
            machine.hart.set_priv(Privilege.S)
        result = machine.run(count)
        if count is None:
            assert HaltReason.FAULT == result.reason
            assert 3 == result.cause
        return tuple(machine.hart.x[1:]), machine.hart.pc, machine.memory.read_bytes(DATA, 0x1000)

    return run


@pytest.fixture(scope="session")
def unicorn() -> Runner:
    return _unicorn


@pytest.fixture(scope="session", params=sorted(TIERS))
def ours(request: pytest.FixtureRequest) -> Runner:
    return _ours(TIERS[request.param])
