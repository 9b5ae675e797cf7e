"""Each optimisation pass preserves behaviour: a block runs the same with and without them,
including when it faults half-way; and the passes do remove what they claim to."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore_domain_services.execution import Machine, PythonBackend, SourceBlock, translate_block
from vmcore_domain_services.riscv.asm import assemble, encode, li
from vmcore_domain_services.riscv.errors import GuestTrap
from vmcore_domain_services.riscv.ir import Const, Op, Reg
from vmcore_domain_services.riscv.lift import lift_block
from vmcore_domain_services.riscv.passes import (
    DEFAULT_PASSES,
    Pass,
    constant_fold,
    dead_code,
    x0_elimination,
)

from .conftest import CODE, DATA  # type: ignore[import-not-found]

OPS = ["add", "sub", "xor", "or", "and", "sll", "srl", "sra", "slt", "sltu", "mul", "mulh",
       "div", "remu", "addw", "subw", "sllw", "sraw", "divw"]  # fmt: skip
reg = st.integers(0, 12)


@st.composite
def blocks(draw: st.DrawFn) -> list[int]:
    words: list[int] = []
    for _ in range(draw(st.integers(1, 16))):
        kind = draw(st.sampled_from(["li", "op", "opi", "load", "store", "zero"]))
        if kind == "li":
            words += li(draw(reg), draw(st.integers(0, (1 << 64) - 1)))
        elif kind == "op":
            words.append(encode(draw(st.sampled_from(OPS)), draw(reg), draw(reg), draw(reg)))
        elif kind == "opi":
            name = draw(st.sampled_from(["addi", "xori", "andi", "slti", "sltiu", "addiw"]))
            words.append(encode(name, draw(reg), draw(reg), imm=draw(st.integers(-2048, 2047))))
        elif kind == "load":
            name = draw(st.sampled_from(["ld", "lw", "lhu", "lb"]))
            words.append(encode(name, draw(reg), 13, imm=draw(st.integers(-64, 64))))
        elif kind == "store":
            name = draw(st.sampled_from(["sd", "sw", "sb"]))
            words.append(encode(name, 0, 13, draw(reg), imm=draw(st.integers(-64, 64))))
        else:
            words.append(encode("add", 0, draw(reg), draw(reg)))
    words.append(encode(draw(st.sampled_from(["beq", "bltu", "bge"])), 0, draw(reg), draw(reg),
                        imm=draw(st.sampled_from([-4 * len(words), 8]))))  # fmt: skip
    return words


def run_block(words: list[int], regs: list[int], passes: tuple[Pass, ...]) -> object:
    m = Machine(1 << 20, console=lambda b: None)
    m.memory.write_bytes(CODE, assemble(words))
    m.memory.write_bytes(DATA, bytes(range(256)) * 16)
    m.hart.x[:] = regs
    backend = PythonBackend(m.port.block_functions(), passes=passes)
    src = SourceBlock(CODE, m.port.fetch, lambda va: m.port.fetch_page(va) >> 12, 3)
    translated = translate_block(src, "riscv64", backend)
    assert translated is not None
    try:
        outcome: object = translated.fn(m.hart.x, 1000)
    except GuestTrap as trap:
        outcome = ("trap", trap.cause, trap.tval, trap.pc, trap.retired)
    return outcome, list(m.hart.x), m.memory.read_bytes(DATA - 4096, 3 * 4096)


@settings(max_examples=150, deadline=None)
@given(
    words=blocks(),
    values=st.lists(st.integers(0, (1 << 64) - 1), min_size=13, max_size=13),
    base=st.sampled_from([DATA + 128, DATA + 4096 - 16, 8]),  # 8: loads and stores fault
    passes=st.sampled_from([DEFAULT_PASSES, (x0_elimination,), (constant_fold,), (dead_code,)]),
)
def test_a_block_behaves_the_same_with_and_without_passes(
    words: list[int], values: list[int], base: int, passes: tuple[Pass, ...]
) -> None:
    regs = [0, *values[1:], base, *[0] * 18]
    assert run_block(words, regs, ()) == run_block(words, regs, passes)


def test_passes_fold_constants_drop_x0_and_dead_writes() -> None:
    words = [
        *li(5, 0x1234_5678_9ABC),  # folds into one constant
        encode("add", 0, 5, 5),  # writes x0: vanishes
        encode("addi", 6, 0, imm=1),  # overwritten below before any read or fault: dead
        encode("addi", 6, 5, imm=1),
        encode("jal", 0, imm=8),
    ]
    m = Machine(1 << 20, console=lambda b: None)
    m.memory.write_bytes(CODE, assemble(words))
    block = lift_block(CODE, m.port.fetch, lambda va: 0, 3)
    assert block is not None
    optimised = dead_code(constant_fold(x0_elimination(block)))
    n = len(li(5, 0x1234_5678_9ABC))
    expected = [
        Op("mov", Reg(5), (Const(0x1234_5678_9ABC),), n - 1),
        Op("mov", Reg(6), (Const(0x1234_5678_9ABD),), n + 2),
    ]
    assert expected == optimised.ops
    assert len(block.ops) > len(optimised.ops)



def test_constant_folding_alone_never_propagates_a_write_to_x0() -> None:
    """Found by hypothesis: ``lui x0, 1; addiw x0, x0, -2048; ...; beq x30, x0, back`` took
    the branch as not taken when constant folding ran without x0 elimination."""
    words = [0x0000_1037, 0x8000_001B, *[0x0000_0013] * 10, 0xFC0F_0EE3]
    regs = [0] * 12 + [0x8001_0080] + [0] * 19
    assert run_block(words, regs, ()) == run_block(words, regs, (constant_fold,))
