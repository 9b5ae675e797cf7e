"""Register allocation for the Python backend.

Guest registers a block touches live in host locals ``r<n>``: loaded once on entry, written
back to the register file at every exit (normal, trap or fault). Temporaries get locals by a
linear scan over their live ranges, and a temporary read exactly once by the next
instructions is not given a local at all: its expression is inlined into its reader when no
guest register it reads is written in between.
"""

from __future__ import annotations

from attrs import frozen

from .ir import PURE_OPS, Block, Branch, IndirectJump, Reg, Tmp, Value

__all__ = ["Allocation", "allocate"]


@frozen
class Allocation:
    loaded: tuple[int, ...]
    """Guest registers read into locals on entry (every register the block touches)."""
    written: tuple[int, ...]
    """Guest registers written back at exits."""
    names: dict[Tmp, str]
    """Local variable of each non-inlined temporary."""
    inlined: frozenset[Tmp]
    """Temporaries whose defining expression is substituted into their single reader."""


def _reads(block: Block) -> list[list[Value]]:
    reads = [list(op.args) for op in block.ops]
    term = block.terminator
    tail: list[Value] = []
    if isinstance(term, Branch):
        tail = [term.a, term.b]
    elif isinstance(term, IndirectJump):
        tail = [term.target]
    reads.append(tail)
    return reads


def allocate(block: Block) -> Allocation:
    touched: set[int] = set()
    written: set[int] = set()
    reads = _reads(block)
    for op in block.ops:
        if isinstance(op.dst, Reg):
            touched.add(op.dst.n)
            written.add(op.dst.n)
    for values in reads:
        touched |= {v.n for v in values if isinstance(v, Reg)}
    touched.discard(0)
    written.discard(0)

    defs: dict[Tmp, int] = {}
    uses: dict[Tmp, list[int]] = {}
    for i, op in enumerate(block.ops):
        if isinstance(op.dst, Tmp):
            defs[op.dst] = i
    for i, values in enumerate(reads):
        for v in values:
            if isinstance(v, Tmp):
                uses.setdefault(v, []).append(i)
    inlined: set[Tmp] = set()
    sources: dict[Tmp, set[Reg]] = {}
    for tmp, at in sorted(defs.items(), key=lambda item: item[1]):
        regs = {v for v in block.ops[at].args if isinstance(v, Reg)}
        for v in block.ops[at].args:
            if isinstance(v, Tmp) and v in inlined:
                regs |= sources[v]
        sources[tmp] = regs
        users = uses.get(tmp, [])
        if len(users) != 1 or block.ops[at].opcode not in PURE_OPS:
            continue
        between = block.ops[at + 1 : users[0]]
        if not any(op.dst in regs for op in between):
            inlined.add(tmp)
    names: dict[Tmp, str] = {}
    free: list[str] = []
    created = 0
    ends = {t: max(u) for t, u in uses.items()}
    active: list[tuple[int, str]] = []
    for tmp in sorted(defs, key=defs.__getitem__):
        if tmp in inlined:
            continue
        start = defs[tmp]
        for end, name in list(active):
            if end < start:
                active.remove((end, name))
                free.append(name)
        if free:
            name = free.pop()
        else:
            name = f"t{created}"
            created += 1
        names[tmp] = name
        active.append((ends.get(tmp, start), name))
    return Allocation(tuple(sorted(touched)), tuple(sorted(written)), names, frozenset(inlined))
