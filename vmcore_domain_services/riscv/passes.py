"""Optimisation passes over IR blocks: x0 elimination, constant folding and propagation,
dead-code elimination. Each pass returns a new :class:`~.ir.Block` and keeps the guest
state at every exit (including every op that may fault) exactly as without it.
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import evolve

from .alu import BINARY
from .ir import (
    GUARD_OPS,
    MEMORY_OPS,
    PURE_OPS,
    Block,
    Branch,
    Const,
    IndirectJump,
    Jump,
    Op,
    Reg,
    Terminator,
    Tmp,
    Value,
)

__all__ = ["DEFAULT_PASSES", "Pass", "constant_fold", "dead_code", "optimise", "x0_elimination"]

Pass = Callable[[Block], Block]
_ZERO = Const(0)
_X0 = Reg(0)
_BRANCH_EVAL: dict[str, Callable[[int, int], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: BINARY["slt"](a, b) == 1,
    "ge": lambda a, b: BINARY["slt"](a, b) == 0,
    "ltu": lambda a, b: a < b,
    "geu": lambda a, b: a >= b,
}


def _subst(value: Value, known: dict[Reg | Tmp, Const]) -> Value:
    if isinstance(value, Const):
        return value
    if value == _X0:
        return _ZERO  # x0 reads as zero whatever was "written" to it
    return known.get(value, value)


def _terminator(term: Terminator, f: Callable[[Value], Value]) -> Terminator:
    if isinstance(term, Branch):
        a, b = f(term.a), f(term.b)
        if isinstance(a, Const) and isinstance(b, Const):
            taken = _BRANCH_EVAL[term.cond](a.value, b.value)
            return Jump(term.taken if taken else term.fallthrough)
        return evolve(term, a=a, b=b)
    if isinstance(term, IndirectJump):
        target = f(term.target)
        return Jump(target.value) if isinstance(target, Const) else IndirectJump(target)
    return term


def x0_elimination(block: Block) -> Block:
    """Reads of x0 become the constant 0; writes to x0 vanish (a load keeps its access)."""

    def f(v: Value) -> Value:
        return _ZERO if v == Reg(0) else v

    ops: list[Op] = []
    for op in block.ops:
        args = tuple(f(a) for a in op.args)
        dst = op.dst
        if dst == Reg(0):
            if op.opcode in PURE_OPS:
                continue
            dst = None
        ops.append(Op(op.opcode, dst, args, op.index))
    return evolve(block, ops=ops, terminator=_terminator(block.terminator, f))


def constant_fold(block: Block) -> Block:
    """Propagate known constants forward and evaluate pure ops whose operands are known."""
    known: dict[Reg | Tmp, Const] = {}
    ops: list[Op] = []
    for op in block.ops:
        args = tuple(_subst(a, known) for a in op.args)
        dst = op.dst
        if dst is not None:
            known.pop(dst, None)
        a, b = (*args, _ZERO, _ZERO)[:2]
        if (
            op.opcode in GUARD_OPS
            and isinstance(a, Const)
            and isinstance(b, Const)
            and not _BRANCH_EVAL[op.opcode[5:]](a.value, b.value)
        ):
            continue  # a side exit never taken
        if op.opcode in PURE_OPS and dst is not None:
            value = _fold(op.opcode, args)
            if value is not None:
                if dst != _X0:
                    known[dst] = value
                ops.append(Op("mov", dst, (value,), op.index))
                continue
            args = _simplify(op.opcode, args)
            if len(args) == 1:
                ops.append(Op("mov", dst, args, op.index))
                continue
        ops.append(Op(op.opcode, dst, args, op.index))
    term = _terminator(block.terminator, lambda v: _subst(v, known))
    return evolve(block, ops=ops, terminator=term)


def _fold(opcode: str, args: tuple[Value, ...]) -> Const | None:
    if not all(isinstance(a, Const) for a in args):
        return None
    values = [a.value for a in args if isinstance(a, Const)]
    if opcode == "mov":
        return Const(values[0])
    return Const(BINARY[opcode](values[0], values[1]))


def _simplify(opcode: str, args: tuple[Value, ...]) -> tuple[Value, ...]:
    """Algebraic identities: ``x + 0``, ``x | 0``, ``x ^ 0``, shifts by 0 are ``x``."""
    if (
        len(args) == 2
        and args[1] == _ZERO
        and opcode in ("add", "sub", "or", "xor", "sll", "srl", "sra")
    ):
        return (args[0],)
    if len(args) == 2 and args[0] == _ZERO and opcode in ("add", "or", "xor"):
        return (args[1],)
    return args


def dead_code(block: Block) -> Block:
    """Drop pure ops whose result is never read before it is overwritten.

    Every exit reads every guest register (registers are written back there), and a side
    exit or an op that may fault is an exit, so a guest register write only dies when the
    register is written again with no read, no side exit and no possible fault in between.
    """
    live_tmps: set[Tmp] = set()
    dead_regs: set[Reg] = set()
    term = block.terminator
    if isinstance(term, Branch):
        live_tmps |= {v for v in (term.a, term.b) if isinstance(v, Tmp)}
    elif isinstance(term, IndirectJump) and isinstance(term.target, Tmp):
        live_tmps.add(term.target)
    kept: list[Op] = []
    for op in reversed(block.ops):
        dst = op.dst
        if op.opcode in PURE_OPS and (
            (isinstance(dst, Tmp) and dst not in live_tmps)
            or (isinstance(dst, Reg) and dst in dead_regs)
        ):
            continue
        if op.opcode in MEMORY_OPS or op.opcode in GUARD_OPS:
            dead_regs.clear()
        elif isinstance(dst, Reg):
            dead_regs.add(dst)
        for a in op.args:
            if isinstance(a, Tmp):
                live_tmps.add(a)
            elif isinstance(a, Reg):
                dead_regs.discard(a)
        kept.append(op)
    kept.reverse()
    return evolve(block, ops=kept)


DEFAULT_PASSES: tuple[Pass, ...] = (x0_elimination, constant_fold, dead_code)


def optimise(block: Block, passes: tuple[Pass, ...] = DEFAULT_PASSES) -> Block:
    for p in passes:
        block = p(block)
    return block
