"""Build page tables in guest memory: for tests, documentation and loading guests."""

from __future__ import annotations

from vmcore.domain import Architecture
from vmcore_domain_services.mmu.modes import PagingMode
from vmcore_domain_services.mmu.protocols import PhysicalMemory

RISCV_TABLE_FLAGS = 0x1
"""A RISC-V non-leaf PTE: V only."""
X86_TABLE_FLAGS = 0x7
"""An x86-64 non-leaf entry: P, R/W, U/S (leave the decision to the leaf)."""
_X86_PS = 1 << 7


class PageTableBuilder:
    """Allocates table pages upward from ``table_base`` and maps pages into them.

    ``map(va, pa, flags, level)`` writes the missing non-leaf entries and the leaf entry;
    ``flags`` are the leaf's low bits (RISC-V: V R W X U G A D; x86-64: P R/W U/S ... plus
    NX in bit 63) and the PS bit is added for x86-64 large pages.
    """

    def __init__(
        self,
        mode: PagingMode,
        memory: PhysicalMemory,
        table_base: int,
        table_flags: int | None = None,
    ) -> None:
        self.mode = mode
        self.memory = memory
        self._riscv = mode.architecture is Architecture.RISCV64
        self.table_flags = (
            table_flags
            if table_flags is not None
            else (RISCV_TABLE_FLAGS if self._riscv else X86_TABLE_FLAGS)
        )
        self._next_table = table_base
        self._tables: set[int] = set()
        self.root = self.allocate_table()

    def allocate_table(self) -> int:
        """A fresh zeroed 4 KiB table; returns its physical address."""
        address = self._next_table
        for offset in range(0, 4096, 8):
            self.memory.write(address + offset, 8, 0)
        self._next_table += 4096
        self._tables.add(address)
        return address

    @property
    def next_table(self) -> int:
        return self._next_table

    def entry_address(self, va: int, level: int) -> int:
        """Where the entry for ``va`` at ``level`` lives (the path must already exist)."""
        table = self.root
        for current in range(self.mode.levels - 1, level, -1):
            entry = self.memory.read(table + self.mode.index(va, current) * 8, 8)
            table = self._table_of(entry)
        return table + self.mode.index(va, level) * 8

    def map(self, va: int, pa: int, flags: int, level: int = 0) -> int:
        """Map the page of size ``mode.page_size_at(level)`` at ``va`` to ``pa``; returns
        the leaf entry's address."""
        table = self.root
        for current in range(self.mode.levels - 1, level, -1):
            address = table + self.mode.index(va, current) * 8
            entry = self.memory.read(address, 8)
            if not entry & 1:
                entry = self._table_entry(self.allocate_table())
                self.memory.write(address, 8, entry)
            table = self._table_of(entry)
            if self._is_leaf(entry, current) or table not in self._tables:
                raise ValueError(f"{va:#x} is already mapped by a leaf at level {current}")
        leaf_address = table + self.mode.index(va, level) * 8
        self.memory.write(leaf_address, 8, self.leaf_entry(pa, flags, level))
        return leaf_address

    def leaf_entry(self, pa: int, flags: int, level: int = 0) -> int:
        if self._riscv:
            return ((pa >> 12) << 10) | flags
        return (pa & 0x000F_FFFF_FFFF_F000) | flags | (_X86_PS if level else 0)

    def _table_entry(self, table: int) -> int:
        if self._riscv:
            return ((table >> 12) << 10) | self.table_flags
        return table | self.table_flags

    def _table_of(self, entry: int) -> int:
        if self._riscv:
            return ((entry >> 10) & ((1 << 44) - 1)) << 12
        return entry & 0x000F_FFFF_FFFF_F000

    def _is_leaf(self, entry: int, level: int) -> bool:
        if self._riscv:
            return bool(entry & 0xA)
        return level in (1, 2) and bool(entry & _X86_PS)
