"""The code cache: translated blocks by (pc, address-space id, privilege).

Lookups go through one dict per (asid, privilege) pair so the run loop's hot path is a
single ``dict.get(pc)``. Each block also records the physical pages its code came from, so
a store to one of them (self-modifying code) drops exactly the blocks built from it.
"""

from __future__ import annotations

from attrs import define, field

from vmcore_domain_services.riscv.codegen import BlockFunction

__all__ = ["CachedBlock", "CodeCache"]


@define
class CachedBlock:
    """A compiled block: ``fn(x, budget) -> (next_pc, retired)``."""

    pc: int
    fn: BlockFunction
    instructions: int
    """Guest instructions the block starts, a trapping last one included: the run loop
    enters it only when the instruction budget covers every one of them, so no trap is
    taken past ``max_instructions`` (the interpreter stops before such an instruction)."""
    pages: frozenset[int]
    ranges: tuple[tuple[int, int], ...] = ()
    """Physical byte ranges ``[start, end)`` the block's instructions came from."""
    source: str = ""
    executions: int = 0


@define
class CodeCache:
    tables: dict[tuple[int, int], dict[int, CachedBlock | None]] = field(factory=dict)
    """``(asid, priv) -> pc -> block`` (``None``: the pc always runs in the interpreter)."""
    by_page: dict[int, set[tuple[int, int, int]]] = field(factory=dict)
    extent: dict[int, tuple[int, int]] = field(factory=dict)
    """Per physical page, a physical byte range covering all its translated code (a store
    outside it cannot hit code, so data sharing a page with code stays cheap)."""
    translations: int = 0
    invalidations: int = 0

    def table(self, asid: int, priv: int) -> dict[int, CachedBlock | None]:
        key = (asid, priv)
        table = self.tables.get(key)
        if table is None:
            table = self.tables[key] = {}
        return table

    def insert(self, asid: int, priv: int, pc: int, block: CachedBlock | None) -> None:
        self.table(asid, priv)[pc] = block
        if block is not None:
            self.translations += 1
            for page in block.pages:
                self.by_page.setdefault(page, set()).add((asid, priv, pc))
            for lo, hi in block.ranges:
                for page in {lo >> 12, (hi - 1) >> 12}:
                    old_lo, old_hi = self.extent.get(page, (lo, hi))
                    self.extent[page] = (min(old_lo, lo), max(old_hi, hi))

    def lookup(self, pc: int, asid: int, priv: int) -> CachedBlock | None:
        return self.table(asid, priv).get(pc)

    def invalidate_page(self, page: int) -> int:
        """Drop every block built from physical page ``page`` (a restore found its bytes
        changed); returns how many."""
        keys = self.by_page.pop(page, set())
        self.extent.pop(page, None)
        for asid, priv, pc in keys:
            self.tables.get((asid, priv), {}).pop(pc, None)
        self.invalidations += len(keys)
        return len(keys)

    def invalidate_range(self, start: int, end: int) -> int:
        """Drop the blocks whose code overlaps physical ``[start, end)``; returns how many."""
        page = start >> 12
        keys = self.by_page.get(page)
        if not keys:
            return 0
        lo, hi = self.extent.get(page, (0, 1 << 64))
        if end <= lo or hi <= start:
            return 0
        hit = []
        for asid, priv, pc in keys:
            block = self.tables.get((asid, priv), {}).get(pc)
            if block is None or any(lo < end and start < hi for lo, hi in block.ranges):
                hit.append((asid, priv, pc))
        for key in hit:
            keys.discard(key)
            self.tables.get((key[0], key[1]), {}).pop(key[2], None)
        if not keys:
            del self.by_page[page]
            self.extent.pop(page, None)
        self.invalidations += len(hit)
        return len(hit)

    def has_code(self, page: int) -> bool:
        return bool(self.by_page.get(page))

    def flush(self) -> None:
        """Drop everything (``fence.i``, ``sfence.vma``, restore)."""
        self.invalidations += sum(len(t) for t in self.tables.values())
        for table in self.tables.values():
            table.clear()
        self.by_page.clear()
        self.extent.clear()

    def __len__(self) -> int:
        return sum(1 for t in self.tables.values() for b in t.values() if b is not None)
