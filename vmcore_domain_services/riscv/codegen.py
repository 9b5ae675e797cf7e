"""The Python backend: one straight-line Python function per IR block, compiled once.

The generated function is ``block(x, budget) -> (next_pc, retired)``: guest registers live
in locals (see :mod:`.regalloc`), memory ops call the :class:`~.port.MemoryPort` fast paths,
and a block whose terminator jumps back to its own start loops inside the function while at
least one more full iteration fits in ``budget``, so a hot loop runs without leaving Python
bytecode. A fault inside the block writes the registers back and sets the precise ``pc`` and
``retired`` count on the :class:`~.errors.GuestTrap` before it propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import alu
from .errors import GuestTrap, Resync
from .ir import (
    GUARD_OPS,
    MEMORY_OPS,
    Block,
    Branch,
    Const,
    Exit,
    IndirectJump,
    Jump,
    Op,
    Reg,
    Tmp,
    Trap,
    Value,
)
from .regalloc import Allocation, allocate

__all__ = ["BlockFunction", "compile_block", "generate_source", "helper_namespace"]

BlockFunction = Callable[[list[int], int], tuple[int, int]]
_M = "0xFFFFFFFFFFFFFFFF"
_SIGN = 1 << 63
_HELPERS = ("mulh", "mulhsu", "div", "divu", "rem", "remu", "divw", "divuw", "remw", "remuw")
_COND = {"eq": "==", "ne": "!=", "lt": "<", "ge": ">=", "ltu": "<", "geu": ">="}


def helper_namespace() -> dict[str, Any]:
    """Globals every generated block needs apart from the memory functions ``_lb``...``_sd``."""
    ns: dict[str, Any] = {f"_{name}": getattr(alu, name) for name in _HELPERS}
    ns.update(GuestTrap=GuestTrap, Resync=Resync)
    return ns


class _Emitter:
    def __init__(self, block: Block, alloc: Allocation) -> None:
        self.block = block
        self.alloc = alloc
        self.exprs: dict[Tmp, str] = {}

    def val(self, v: Value) -> str:
        if isinstance(v, Const):
            return str(v.value)
        if isinstance(v, Reg):
            return f"r{v.n}" if v.n else "0"
        return self.exprs.get(v) or self.alloc.names[v]

    def expr(self, op: Op) -> str:
        o = op.opcode
        a = self.val(op.args[0])
        if o == "mov":
            return a
        rhs = op.args[1]
        b = self.val(rhs)
        c = rhs.value if isinstance(rhs, Const) else None
        if o == "add":
            if c is not None and c >= _SIGN:
                return f"(({a}) - {(1 << 64) - c}) & {_M}"
            return f"(({a}) + ({b})) & {_M}"
        if o in ("sub", "mul"):
            return f"(({a}) {'-' if o == 'sub' else '*'} ({b})) & {_M}"
        if o in ("and", "or", "xor"):
            return f"({a}) {dict(zip(('and', 'or', 'xor'), '&|^', strict=True))[o]} ({b})"
        sh = str(c & 63) if c is not None else f"(({b}) & 63)"
        sh32 = str(c & 31) if c is not None else f"(({b}) & 31)"
        if o == "sll":
            return f"(({a}) << {sh}) & {_M}"
        if o == "srl":
            return f"({a}) >> {sh}"
        if o == "sra":
            return f"(((({a}) ^ {_SIGN}) - {_SIGN}) >> {sh}) & {_M}"
        if o == "slt":
            rb = str(c ^ _SIGN) if c is not None else f"(({b}) ^ {_SIGN})"
            return f"(1 if (({a}) ^ {_SIGN}) < {rb} else 0)"
        if o == "sltu":
            return f"(1 if ({a}) < ({b}) else 0)"
        if o == "mulhu":
            return f"(({a}) * ({b})) >> 64"
        if o in ("addw", "subw", "mulw", "sllw", "srlw"):
            inner = {
                "addw": f"({a}) + ({b})",
                "subw": f"({a}) - ({b})",
                "mulw": f"({a}) * ({b})",
                "sllw": f"({a}) << {sh32}",
                "srlw": f"(({a}) & 0xFFFFFFFF) >> {sh32}",
            }[o]
            return f"(((({inner}) & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000) & {_M}"
        if o == "sraw":
            return f"((((({a}) & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000) >> {sh32}) & {_M}"
        return f"_{o}({a}, {b})"

    def cond(self, term: Branch) -> str:
        a, b = self.val(term.a), self.val(term.b)
        if term.cond in ("lt", "ge"):
            rb = str(term.b.value ^ _SIGN) if isinstance(term.b, Const) else f"(({b}) ^ {_SIGN})"
            return f"(({a}) ^ {_SIGN}) {_COND[term.cond]} {rb}"
        return f"({a}) {_COND[term.cond]} ({b})"


_SIZE = {"b": 1, "h": 2, "w": 4, "d": 8}


def _memory_op(op: Op, em: _Emitter, ind: str, dst: Reg | Tmp | None) -> list[str]:
    """A load or store with the first-level TLB lookup inlined; misses call the port
    function.

    ``_rtlb``/``_wtlb`` are the ``get`` methods of the MMU's first-level load and store maps
    (page number -> pa - va, RAM pages only) and ``_read``/``_write`` guest memory's
    physical accessors (see ``PythonBackend``).
    """
    size = _SIZE[op.opcode[1]]
    addr = em.val(op.args[0])
    if op.opcode[0] == "s":
        value = em.val(op.args[1])
        return [
            f"{ind}a_ = {addr}",
            f"{ind}b_ = _wtlb(a_ >> 12)",
            f"{ind}if b_ is not None and a_ & 4095 <= {4096 - size}:",
            f"{ind}    _write(a_ + b_, {size}, {value})",
            f"{ind}else:",
            f"{ind}    _{op.opcode}(a_, {value})",
        ]
    fast = f"_read(a_ + b_, {size})"
    if not op.opcode.endswith("u") and size < 8:
        sign = 1 << (8 * size - 1)
        fast = f"(({fast} ^ {sign}) - {sign}) & {_M}"
    target = em.val(dst) if dst is not None else "_"
    return [
        f"{ind}a_ = {addr}",
        f"{ind}b_ = _rtlb(a_ >> 12)",
        f"{ind}if b_ is not None and a_ & 4095 <= {4096 - size}:",
        f"{ind}    {target} = {fast}",
        f"{ind}else:",
        f"{ind}    {target} = _{op.opcode}(a_)",
    ]


def generate_source(block: Block, name: str) -> str:
    """Python source defining function ``name`` for ``block``."""
    alloc = allocate(block)
    em = _Emitter(block, alloc)
    term = block.terminator
    loops = (isinstance(term, Jump) and term.target == block.pc) or (
        isinstance(term, Branch) and block.pc in (term.taken, term.fallthrough)
    )
    guarded = isinstance(term, Trap) or any(op.opcode in MEMORY_OPS for op in block.ops)
    retired = block.retired
    wb = "; ".join(f"x[{r}] = r{r}" for r in alloc.written) or "pass"
    n_plus = "n + " if loops else ""
    lines = [f"def {name}(x, budget):"]
    lines += [f"    r{r} = x[{r}]" for r in alloc.loaded]
    if loops:
        lines += ["    n = 0", f"    lim = budget - {retired}"]
    ind = "    "
    if guarded:
        lines += ["    k = 0", "    try:"]
        ind += "    "
    if loops:
        lines.append(f"{ind}while True:")
        ind += "    "
    last_k = -1
    for op in block.ops:
        dst = op.dst if op.dst != Reg(0) else None
        if op.opcode in MEMORY_OPS:
            if op.index != last_k:
                lines.append(f"{ind}k = {op.index}")
                last_k = op.index
            lines += _memory_op(op, em, ind, dst)
        elif op.opcode in GUARD_OPS:
            target = op.args[2]
            assert isinstance(target, Const)
            cond = em.cond(Branch(op.opcode[5:], op.args[0], op.args[1], target.value, 0))
            lines += [
                f"{ind}if {cond}:",
                f"{ind}    {wb}",
                f"{ind}    return {target.value}, {n_plus}{op.index + 1}",
            ]
        elif dst is None:
            continue
        elif isinstance(dst, Tmp) and dst in alloc.inlined:
            em.exprs[dst] = f"({em.expr(op)})"
        else:
            lines.append(f"{ind}{em.val(dst)} = {em.expr(op)}")

    def leave(target: str, count: str) -> list[str]:
        return [f"{ind}{wb}", f"{ind}return {target}, {count}"]

    def again(target: int) -> list[str]:
        return [
            f"{ind}n += {retired}",
            f"{ind}if n <= lim:",
            f"{ind}    continue",
            f"{ind}{wb}",
            f"{ind}return {target}, n",
        ]

    full = f"{n_plus}{retired}"
    if isinstance(term, Jump):
        lines += again(term.target) if loops else leave(str(term.target), full)
    elif isinstance(term, Branch):
        cond = em.cond(term)
        first, other = term.taken, term.fallthrough
        if loops and term.fallthrough == block.pc and term.taken != block.pc:
            cond, first, other = f"not ({cond})", term.fallthrough, term.taken
        lines.append(f"{ind}if {cond}:")
        ind += "    "
        lines += again(first) if loops and first == block.pc else leave(str(first), full)
        ind = ind[:-4]
        lines += leave(str(other), full)
    elif isinstance(term, IndirectJump):
        lines += leave(em.val(term.target), full)
    elif isinstance(term, Exit):
        lines += leave(str(term.pc), full)
    else:
        lines += [
            f"{ind}k = {len(block.pcs) - 1}",
            f"{ind}raise GuestTrap({term.cause}, {term.tval})",
        ]
    if guarded:
        pcs = tuple(block.pcs)
        nexts = tuple(p + n for p, n in zip(block.pcs, block.lengths, strict=True))
        lines += [
            "    except GuestTrap as e:",
            f"        {wb}",
            f"        e.pc = {pcs}[k]",
            f"        e.retired = {n_plus}k",
            "        raise",
            "    except Resync as e:",
            f"        {wb}",
            f"        e.next_pc = {nexts}[k]",
            f"        e.retired = {n_plus}k + 1",
            "        raise",
        ]
    return "\n".join(lines) + "\n"


def compile_block(block: Block, namespace: dict[str, Any]) -> tuple[BlockFunction, str]:
    """Compile ``block`` into a function whose globals are ``namespace``."""
    name = f"block_{block.pc:x}"
    source = generate_source(block, name)
    code = compile(source, f"<translated {block.pc:#x}>", "exec")
    exec(code, namespace)
    fn: BlockFunction = namespace.pop(name)
    return fn, source
