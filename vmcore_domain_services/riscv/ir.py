"""The translator's intermediate representation: typed ops on guest registers and temporaries.

A :class:`Block` is straight-line :class:`Op` s (side exits included, see ``GUARD_OPS``)
ending in one terminator (:class:`Jump`, :class:`Branch`, :class:`IndirectJump`,
:class:`Trap`, :class:`Exit`). Values are 64-bit
unsigned; temporaries are assigned exactly once. Every op remembers the index of the guest
instruction it came from, so a fault can report a precise pc and retired count.
"""

from __future__ import annotations

from attrs import define, frozen

from .alu import BINARY

__all__ = [
    "GUARD_OPS",
    "MEMORY_OPS",
    "PURE_OPS",
    "Block",
    "Branch",
    "Const",
    "Exit",
    "IndirectJump",
    "Jump",
    "Op",
    "Reg",
    "Terminator",
    "Tmp",
    "Trap",
    "Value",
]


@frozen
class Reg:
    """Guest integer register ``x<n>``."""

    n: int

    def __str__(self) -> str:
        return f"x{self.n}"


@frozen
class Tmp:
    """A block-local temporary, assigned once."""

    n: int

    def __str__(self) -> str:
        return f"t{self.n}"


@frozen
class Const:
    """A 64-bit unsigned constant."""

    value: int

    def __str__(self) -> str:
        return hex(self.value)


Value = Reg | Tmp | Const

PURE_OPS = frozenset({"mov", *BINARY})
"""Ops without side effects (they cannot fault and may be folded or removed)."""
MEMORY_OPS = frozenset(["lb", "lh", "lw", "ld", "lbu", "lhu", "lwu", "sb", "sh", "sw", "sd"])
"""Loads (``dst = mem[arg0]``) and stores (``mem[arg0] = arg1``); they may fault."""
GUARD_OPS = frozenset({"exit_eq", "exit_ne", "exit_lt", "exit_ge", "exit_ltu", "exit_geu"})
"""Side exits: ``if arg0 <cond> arg1: leave the block to arg2`` (a Const target), the guest
branch retiring. They let a block continue past a forward branch (a superblock)."""


@define
class Op:
    """``dst = opcode(*args)``; ``dst`` is None for stores (and loads into x0)."""

    opcode: str
    dst: Reg | Tmp | None
    args: tuple[Value, ...]
    index: int

    def __str__(self) -> str:
        lhs = f"{self.dst} = " if self.dst is not None else ""
        return f"{lhs}{self.opcode} {', '.join(map(str, self.args))}  ; insn {self.index}"


@frozen
class Jump:
    target: int


@frozen
class Branch:
    """``if a <cond> b: goto taken else goto fallthrough``; cond is eq/ne/lt/ge/ltu/geu."""

    cond: str
    a: Value
    b: Value
    taken: int
    fallthrough: int


@frozen
class IndirectJump:
    target: Value


@frozen
class Trap:
    """The last guest instruction raises ``cause`` with ``tval`` (ecall, ebreak, illegal)."""

    cause: int
    tval: int


@frozen
class Exit:
    """Leave the block at ``pc`` without executing it (system instruction, size limit)."""

    pc: int


Terminator = Jump | Branch | IndirectJump | Trap | Exit


@define
class Block:
    """A translated unit: guest pcs and lengths of its instructions, ops, one terminator.

    ``retired`` is how many guest instructions complete when the block runs to its end (the
    trapping instruction of a :class:`Trap` block does not retire).
    """

    pc: int
    pcs: list[int]
    lengths: list[int]
    ops: list[Op]
    terminator: Terminator
    pages: frozenset[int] = frozenset()

    @property
    def retired(self) -> int:
        n = len(self.pcs)
        return n - 1 if isinstance(self.terminator, Trap) else n
