"""Generated RV64IMA programs: our interpreter and translator against Unicorn 2.1.4.

hypothesis draws ALU and M-extension ops (division by zero and overflow included through
the special register values), loads and stores of every width (aligned or not) into a data
page, atomics (AMOs, LR/SC) on it, forward branches and jumps, and bounded counted loops.
Final registers, pc and data memory must match Unicorn's exactly; with an instruction
limit, so must the state after exactly that many instructions.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unicorn.riscv_const import (
    UC_RISCV_REG_PC,
    UC_RISCV_REG_PRIV,
    UC_RISCV_REG_SATP,
    UC_RISCV_REG_X1,
)
from unicorn.unicorn_const import UC_ARCH_RISCV, UC_HOOK_INTR, UC_MODE_RISCV64
from unicorn.unicorn_py3.unicorn import Uc

from vmcore_domain_services.execution import HaltReason, Machine, TieringPolicy
from vmcore_domain_services.mmu.access import Privilege
from vmcore_domain_services.riscv.asm import assemble, encode, li
from vmcore_domain_services.riscv.csr import Csr

from .conftest import (  # type: ignore[import-not-found]
    CODE,
    DATA,
    DATA_VA,
    SATP,
    TABLE_BYTES,
    TABLES,
    TIERS,
    Runner,
    page_tables,
    satp,
    values,
)

R_OPS = [
    "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and", "mul", "mulh",
    "mulhsu", "mulhu", "div", "divu", "rem", "remu", "addw", "subw", "sllw", "srlw", "sraw",
    "mulw", "divw", "divuw", "remw", "remuw",
]  # fmt: skip
I_OPS = ["addi", "slti", "sltiu", "xori", "ori", "andi", "addiw"]
SHIFTS = {"slli": 63, "srli": 63, "srai": 63, "slliw": 31, "srliw": 31, "sraiw": 31}
LOADS = {"lb": 1, "lh": 2, "lw": 4, "ld": 8, "lbu": 1, "lhu": 2, "lwu": 4}
STORES = {"sb": 1, "sh": 2, "sw": 4, "sd": 8}
AMOS = ["lr", "sc", "amoswap", "amoadd", "amoxor", "amoand", "amoor", "amomin", "amomax",
        "amominu", "amomaxu"]  # fmt: skip
BRANCHES = ["beq", "bne", "blt", "bge", "bltu", "bgeu"]
LOOP_REG, FAR_REG, BASE_REG = 29, 30, 31
dst = st.integers(0, 28)
src = st.integers(0, 31)
imm12 = st.integers(-2048, 2047)


@st.composite
def straight(draw: st.DrawFn, traps: bool = False) -> int:
    """One op. With ``traps``: also ``ecall``, and loads and stores through x30 (set to
    ``DATA_VA + 0x800`` by the trap tests), which may cross into the unmapped next page."""
    kinds = ["r", "r", "r", "i", "shift", "u", "load", "store", "amo"]
    kind = draw(st.sampled_from([*kinds, "ecall", "far"] if traps else kinds))
    if kind == "ecall":
        return encode("ecall")
    if kind == "far":
        name = draw(st.sampled_from(sorted(LOADS) + sorted(STORES)))
        off = draw(st.integers(2048 - 16, 2047))
        if name in STORES:
            return encode(name, 0, FAR_REG, draw(src), imm=off)
        return encode(name, draw(dst), FAR_REG, imm=off)
    if kind == "r":
        return encode(draw(st.sampled_from(R_OPS)), draw(dst), draw(src), draw(src))
    if kind == "i":
        return encode(draw(st.sampled_from(I_OPS)), draw(dst), draw(src), imm=draw(imm12))
    if kind == "shift":
        name = draw(st.sampled_from(sorted(SHIFTS)))
        return encode(name, draw(dst), draw(src), imm=draw(st.integers(0, SHIFTS[name])))
    if kind == "u":
        return encode(
            draw(st.sampled_from(["lui", "auipc"])), draw(dst), imm=draw(st.integers(0, 0xFFFFF))
        )
    if kind == "load":
        name = draw(st.sampled_from(sorted(LOADS)))
        off = draw(st.integers(0, 2048 - LOADS[name]))
        return encode(name, draw(dst), BASE_REG, imm=off)
    if kind == "amo":
        name = draw(st.sampled_from(AMOS)) + draw(st.sampled_from([".w", ".d"]))
        return encode(name, draw(dst), BASE_REG, 0 if name.startswith("lr") else draw(src))
    name = draw(st.sampled_from(sorted(STORES)))
    off = draw(st.integers(0, 2048 - STORES[name]))
    return encode(name, 0, BASE_REG, draw(src), imm=off)


@st.composite
def programs(draw: st.DrawFn, traps: bool = False) -> list[int]:
    words: list[int] = []
    fixups: list[tuple[int, str, int, int, int]] = []
    for _ in range(draw(st.integers(1, 24))):
        shape = draw(st.sampled_from(["op", "op", "op", "op", "branch", "jal", "loop"]))
        if shape == "op":
            words.append(draw(straight(traps)))
        elif shape == "branch":
            fixups.append((len(words), draw(st.sampled_from(BRANCHES)), draw(src), draw(src),
                           draw(st.integers(1, 3))))  # fmt: skip
            words.append(0)
        elif shape == "jal":
            words.append(encode("jal", draw(dst), imm=8))
            words.append(draw(straight(traps)))
        else:
            body = draw(st.lists(straight(traps), min_size=1, max_size=6))
            body = [w for w in body if (w >> 7) & 31 != LOOP_REG]
            words.append(encode("addi", LOOP_REG, 0, imm=draw(st.integers(1, 12))))
            words += body
            words.append(encode("addi", LOOP_REG, LOOP_REG, imm=-1))
            words.append(encode("blt", 0, 0, LOOP_REG, imm=-4 * (len(body) + 1)))
    for at, name, a, b, skip in fixups:
        target = min(at + skip + 1, len(words))
        words[at] = encode(name, 0, a, b, imm=4 * (target - at))
    return words


registers = st.lists(values, min_size=1, max_size=28).map(
    lambda r: [*r, *[0] * (30 - len(r)), DATA]
)
"""x1..x31: x29 (the loop counter) starts at 0 so a branch into a loop body ends it at once."""
data_pages = st.binary(min_size=1, max_size=64).map(lambda seed: (seed * 4096)[:4096])


@settings(max_examples=150, deadline=None)
@given(words=programs(), regs=registers, data=data_pages)
def test_final_state_matches_unicorn(
    words: list[int], regs: list[int], data: bytes, unicorn: Runner, ours: Runner
) -> None:
    assert unicorn(words, regs, data, None) == ours(words, regs, data, None)


@settings(max_examples=50, deadline=None)
@given(words=programs(), regs=registers, data=data_pages, count=st.integers(1, 80))
def test_state_after_exact_instruction_count_matches_unicorn(
    words: list[int], regs: list[int], data: bytes, count: int, unicorn: Runner, ours: Runner
) -> None:
    expected = unicorn(words, regs, data, count)
    assert expected == ours(words, regs, data, count)


@pytest.mark.parametrize("levels", [3, 4, 5], ids=["Sv39", "Sv48", "Sv57"])
@settings(max_examples=25, deadline=None)
@given(words=programs(), regs=registers, data=data_pages, count=st.none() | st.integers(1, 80))
def test_programs_in_s_mode_with_paging_match_unicorn(
    levels: int,
    words: list[int],
    regs: list[int],
    data: bytes,
    count: int | None,
    unicorn: Runner,
    ours: Runner,
) -> None:
    regs = [*regs[:-1], DATA_VA]
    assert unicorn(words, regs, data, count, levels) == ours(words, regs, data, count, levels)


HANDLER = CODE + 0x8000
ECALL = encode("ecall")
"""Our mtvec in the trap tests: an ``ebreak`` that traps to itself, so the run stops with
the first trap's mcause and mepc intact (Unicorn reports traps but never delivers them)."""
TrapOutcome = tuple[tuple[int, ...], int, int | None, bytes]
"""Registers x1..x31, pc (of the trapping instruction if one trapped), cause, data page."""


def _unicorn_with_traps(
    words: list[int], regs: list[int], data: bytes, count: int, paged: int
) -> TrapOutcome:
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(CODE, 0x10000)
    uc.mem_map(DATA, 0x1000)
    uc.mem_map(TABLES, TABLE_BYTES)
    for address, pte in page_tables(max(paged, 3)):
        uc.mem_write(address, pte)
    if paged:
        uc.reg_write(UC_RISCV_REG_PRIV, 3)
        uc.reg_write(UC_RISCV_REG_SATP, satp(paged))
        uc.reg_write(UC_RISCV_REG_PRIV, 1)
    uc.mem_write(CODE, assemble([*words, encode("ebreak")]))
    uc.mem_write(DATA, data)
    for i, value in enumerate(regs, start=1):
        uc.reg_write(UC_RISCV_REG_X1 + i - 1, value)
    traps: list[tuple[int, int]] = []

    def on_interrupt(engine: Uc, cause: int, _: object) -> None:
        traps.append((cause, engine.reg_read(UC_RISCV_REG_PC) - 4))  # pc is past the insn
        engine.emu_stop()

    uc.hook_add(UC_HOOK_INTR, on_interrupt)
    uc.emu_start(CODE, CODE + 4 * len(words), count=count)
    cause, pc = traps[0] if traps else (None, uc.reg_read(UC_RISCV_REG_PC))
    out = tuple(uc.reg_read(UC_RISCV_REG_X1 + i) for i in range(31))
    return out, pc, cause, bytes(uc.mem_read(DATA, 0x1000))


def _ours_with_traps(
    tiering: TieringPolicy,
    words: list[int],
    regs: list[int],
    data: bytes,
    count: int,
    paged: int,
) -> TrapOutcome:
    machine = Machine(1 << 20, console=lambda b: None, tiering=tiering)
    machine.memory.write_bytes(CODE, assemble([*words, encode("ebreak")]))
    machine.memory.write_bytes(HANDLER, assemble([encode("ebreak")]))
    machine.memory.write_bytes(DATA, data)
    machine.hart.x[1:] = regs
    machine.hart.pc = CODE
    machine.hart.csr.write(Csr.MTVEC, HANDLER, Privilege.M)
    if paged:
        for address, pte in page_tables(paged):
            machine.memory.write_bytes(address, pte)
        machine.hart.csr.write(Csr.SATP, satp(paged), Privilege.M)
        machine.hart.set_priv(Privilege.S)
    machine.run(count)
    values = machine.hart.csr.values
    cause: int | None = values[Csr.MCAUSE] if machine.hart.pc == HANDLER else None
    if cause in (9, 11):
        cause = 8  # Unicorn reports every ecall as 8 (from U-mode)
    pc = values[Csr.MEPC] if cause is not None else machine.hart.pc
    if cause == 3 and pc == CODE + 4 * len(words):
        cause = None  # the closing ebreak: where Unicorn stops (``until``) without running it
    data_after = machine.memory.read_bytes(DATA, 0x1000)
    return tuple(machine.hart.x[1:]), pc, cause, data_after


@st.composite
def limited_programs(draw: st.DrawFn) -> tuple[list[int], int]:
    """A program with traps and a limit, often one that ends inside its straight-line
    start, where a trap right after the limit is most likely."""
    words = draw(programs(traps=True))
    traps = [at for at, word in enumerate(words) if at and word == ECALL]
    just_before_a_trap = st.sampled_from(traps) if traps else st.nothing()
    counts = just_before_a_trap | st.integers(1, len(words) + 1) | st.integers(1, 120)
    return words, draw(counts)


@pytest.mark.parametrize("tier", sorted(TIERS))
@settings(max_examples=60, deadline=None)
@given(
    program=limited_programs(),
    regs=registers,
    data=data_pages,
    paged=st.sampled_from([0, 3, 4, 5]),
)
def test_traps_at_exact_instruction_counts_match_unicorn(
    tier: str, program: tuple[list[int], int], regs: list[int], data: bytes, paged: int
) -> None:
    """Programs with ``ecall`` and loads/stores that may cross into an unmapped page, run
    for exactly ``count`` instructions in M-mode or in S-mode under Sv39/Sv48/Sv57: every
    tier stops where QEMU stops, takes a trap only if QEMU raised it within the count, and
    a store that faults on its second page writes nothing."""
    _check_traps(tier, program, regs, data, paged)


def _check_traps(
    tier: str, program: tuple[list[int], int], regs: list[int], data: bytes, paged: int
) -> None:
    words, count = program
    far = DATA_VA + 0x800 if paged else DATA + 0x800 - 24
    regs = [*regs[:-2], far, DATA_VA if paged else DATA]
    expected = _unicorn_with_traps(words, regs, data, count, paged)
    assert expected == _ours_with_traps(TIERS[tier], words, regs, data, count, paged)


@pytest.mark.soak
@pytest.mark.parametrize("tier", sorted(TIERS))
@settings(max_examples=2000, deadline=None)
@given(
    program=limited_programs(),
    regs=registers,
    data=data_pages,
    paged=st.sampled_from([0, 3, 4, 5]),
)
def test_soak_traps_at_exact_instruction_counts_match_unicorn(
    tier: str, program: tuple[list[int], int], regs: list[int], data: bytes, paged: int
) -> None:
    _check_traps(tier, program, regs, data, paged)


@pytest.mark.parametrize("divisor", [0, (1 << 64) - 1])
def test_division_corner_cases_match_unicorn(divisor: int, unicorn: Runner, ours: Runner) -> None:
    words = [encode(op, 1 + i, 10, 11) for i, op in enumerate(R_OPS[14:18] + R_OPS[-4:])]
    regs = [0] * 30 + [DATA]
    regs[9], regs[10] = 1 << 63, divisor
    data = bytes(4096)
    assert unicorn(words, regs, data, None) == ours(words, regs, data, None)


@pytest.mark.parametrize("name", R_OPS + I_OPS + sorted(SHIFTS))
@settings(max_examples=12, deadline=None)
@given(a=values, b=values, imm=imm12)
def test_every_alu_op_matches_unicorn(
    name: str, a: int, b: int, imm: int, unicorn: Runner, ours: Runner
) -> None:
    if name in SHIFTS:
        imm %= SHIFTS[name] + 1
    words = [encode(name, 3, 1, 2, imm=imm), encode(name, 4, 2, 1, imm=imm)]
    regs = [a, b, *[0] * 28, DATA]
    assert unicorn(words, regs, bytes(4096), None) == ours(words, regs, bytes(4096), None)


@pytest.mark.soak
@settings(max_examples=3000, deadline=None)
@given(words=programs(), regs=registers, data=data_pages, count=st.none() | st.integers(1, 200))
def test_soak_programs_match_unicorn(
    words: list[int], regs: list[int], data: bytes, count: int | None, unicorn: Runner, ours: Runner
) -> None:
    assert unicorn(words, regs, data, count) == ours(words, regs, data, count)


@pytest.mark.parametrize(
    ("name", "address"),
    [("ld", 0x4000_1000), ("sd", 0x4000_1000), ("lw", 0x4000_0000 - 8), ("jalr", 0x4000_2000)],
)
def test_page_fault_causes_match_unicorn(name: str, address: int) -> None:
    """An access to an unmapped virtual page in S-mode: every tier reports the cause QEMU
    reports, with the faulting address as tval."""
    words = [*li(5, address), encode(name, 6, 5, 7) if name == "sd" else encode(name, 6, 5)]
    if name == "sd":
        words[-1] = encode("sd", 0, 5, 7)
    seen: list[int] = []
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(CODE, 0x10000)
    uc.mem_map(DATA, 0x1000)
    uc.mem_map(TABLES, TABLE_BYTES)
    for pa, pte in page_tables():
        uc.mem_write(pa, pte)
    uc.mem_write(CODE, assemble([*words, encode("ebreak")]))
    uc.reg_write(UC_RISCV_REG_PRIV, 3)
    uc.reg_write(UC_RISCV_REG_SATP, SATP)
    uc.reg_write(UC_RISCV_REG_PRIV, 1)

    def on_interrupt(engine: Uc, cause: int, data: object) -> None:
        seen.append(cause)
        engine.emu_stop()

    uc.hook_add(UC_HOOK_INTR, on_interrupt)
    uc.emu_start(CODE, CODE + 4 * len(words))
    assert seen[:1] == [_our_fault_cause(words, address)]


def _our_fault_cause(words: list[int], address: int) -> int:
    causes: set[int] = set()
    for tiering in TIERS.values():
        machine = Machine(1 << 20, console=lambda b: None, tiering=tiering)
        machine.memory.write_bytes(CODE, assemble([*words, encode("ebreak")]))
        for pa, pte in page_tables():
            machine.memory.write_bytes(pa, pte)
        machine.hart.csr.write(Csr.SATP, SATP, Privilege.M)
        machine.hart.set_priv(Privilege.S)
        result = machine.run(100)
        assert HaltReason.FAULT == result.reason
        assert address == result.tval
        assert result.cause is not None
        causes.add(result.cause)
    assert 1 == len(causes)
    return causes.pop()
