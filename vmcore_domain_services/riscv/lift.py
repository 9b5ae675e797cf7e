"""The RISC-V frontend: decode guest instructions from ``pc`` and lift them into an IR block.

A block ends at the first control transfer (jump, backward branch, ecall/ebreak, illegal;
up to four forward branches become side exits and the block goes on) or before
the first instruction the translated tier leaves to the interpreter (CSR access, ``mret``,
``sret``, ``wfi``, ``fence.i``, ``sfence.vma``, atomics), after ``max_insns`` instructions,
before an instruction whose fetch faults, or before it would touch a third code page.
"""

from __future__ import annotations

from collections.abc import Callable

from .alu import BINARY, M64
from .decoder import ILLEGAL, Insn, decode
from .errors import Cause, GuestTrap
from .ir import (
    MEMORY_OPS,
    Block,
    Branch,
    Const,
    Exit,
    IndirectJump,
    Jump,
    Op,
    Reg,
    Terminator,
    Tmp,
    Trap,
    Value,
)

__all__ = ["INTERPRETED", "lift_block"]

_ATOMICS = ("lr", "sc", "amoswap", "amoadd", "amoxor", "amoand", "amoor", "amomin", "amomax",
            "amominu", "amomaxu")  # fmt: skip
INTERPRETED = frozenset(
    ("csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci", "mret", "sret", "wfi", "fence.i",
     "sfence.vma", *(f"{op}.{w}" for w in "wd" for op in _ATOMICS))
)  # fmt: skip
"""Instructions the translated tier never contains: blocks stop before them."""

_RR = frozenset(BINARY)
_RI = {
    "addi": "add", "slti": "slt", "sltiu": "sltu", "xori": "xor", "ori": "or", "andi": "and",
    "slli": "sll", "srli": "srl", "srai": "sra", "addiw": "addw", "slliw": "sllw",
    "srliw": "srlw", "sraiw": "sraw",
}  # fmt: skip
_MAX_GUARDS = 4
"""Forward conditional branches a block continues past (as side exits) before ending."""
_COND = {"beq": "eq", "bne": "ne", "blt": "lt", "bge": "ge", "bltu": "ltu", "bgeu": "geu"}


class _Lifter:
    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.temps = 0
        self.guards = 0

    def tmp(self) -> Tmp:
        self.temps += 1
        return Tmp(self.temps - 1)

    def emit(self, opcode: str, dst: Reg | Tmp | None, index: int, *args: Value) -> None:
        self.ops.append(Op(opcode, dst, args, index))

    def address(self, i: Insn, index: int) -> Value:
        if i.imm == 0:
            return Reg(i.rs1)
        t = self.tmp()
        self.emit("add", t, index, Reg(i.rs1), Const(i.imm & M64))
        return t

    def lift(self, i: Insn, pc: int, index: int, priv: int) -> Terminator | None:
        """Emit the ops of ``i``; return its terminator if it ends the block."""
        name, nxt = i.name, pc + i.length
        if name in _RR:
            self.emit(name, Reg(i.rd), index, Reg(i.rs1), Reg(i.rs2))
        elif name in _RI:
            self.emit(_RI[name], Reg(i.rd), index, Reg(i.rs1), Const(i.imm & M64))
        elif name == "lui":
            self.emit("mov", Reg(i.rd), index, Const(i.imm & M64))
        elif name == "auipc":
            self.emit("mov", Reg(i.rd), index, Const((pc + i.imm) & M64))
        elif name in MEMORY_OPS and name[0] == "l":
            self.emit(name, Reg(i.rd), index, self.address(i, index))
        elif name in MEMORY_OPS:
            self.emit(name, None, index, self.address(i, index), Reg(i.rs2))
        elif name == "fence":
            pass
        elif name == "jal":
            self.emit("mov", Reg(i.rd), index, Const(nxt & M64))
            return Jump((pc + i.imm) & M64)
        elif name == "jalr":
            target = self.tmp()
            self.emit("add", target, index, Reg(i.rs1), Const(i.imm & M64))
            aligned = self.tmp()
            self.emit("and", aligned, index, target, Const(M64 - 1))
            self.emit("mov", Reg(i.rd), index, Const(nxt & M64))
            return IndirectJump(aligned)
        elif name in _COND:
            dest = (pc + i.imm) & M64
            if i.imm > 0 and self.guards < _MAX_GUARDS:
                self.guards += 1
                self.emit(f"exit_{_COND[name]}", None, index, Reg(i.rs1), Reg(i.rs2), Const(dest))
                return None
            return Branch(_COND[name], Reg(i.rs1), Reg(i.rs2), dest, nxt & M64)
        elif name == "ecall":
            return Trap(Cause.ECALL_U + priv, 0)
        elif name == "ebreak":
            return Trap(Cause.BREAKPOINT, pc)
        elif name == ILLEGAL:
            return Trap(Cause.ILLEGAL_INSTRUCTION, i.raw)
        else:
            raise ValueError(f"cannot lift {name}")
        return None


def lift_block(
    pc: int,
    fetch: Callable[[int], int],
    page_of: Callable[[int], int],
    priv: int,
    max_insns: int = 64,
) -> Block | None:
    """Lift the block at ``pc``; ``None`` if its first instruction must be interpreted.

    ``fetch(va)`` returns the instruction parcel(s) at ``va`` and ``page_of(va)`` the
    physical page number holding ``va``; both may raise GuestTrap (the block then ends
    before that instruction, which will fault when it is reached).
    """
    lifter = _Lifter()
    pcs: list[int] = []
    lengths: list[int] = []
    pages: set[int] = set()
    cur = pc
    terminator: Terminator | None = None
    while terminator is None:
        if len(pcs) == max_insns:
            terminator = Exit(cur)
            break
        try:
            word = fetch(cur)
            insn = decode(word)
            new_pages = {page_of(cur), page_of((cur + insn.length - 1) & M64)}
        except GuestTrap:
            if not pcs:
                return None
            terminator = Exit(cur)
            break
        if insn.name in INTERPRETED or len(pages | new_pages) > 2:
            if not pcs:
                return None
            terminator = Exit(cur)
            break
        pages |= new_pages
        pcs.append(cur)
        lengths.append(insn.length)
        terminator = lifter.lift(insn, cur, len(pcs) - 1, priv)
        cur = (cur + insn.length) & M64
    return Block(pc, pcs, lengths, lifter.ops, terminator, frozenset(pages))
