"""Paging modes as data: levels, index bits, PTE size and the page size at each level."""

from __future__ import annotations

from attrs import frozen

from vmcore.domain import Architecture


@frozen
class PagingMode:
    """The geometry of one paging mode.

    Level 0 maps 4 KiB pages; level ``i`` maps ``4 KiB << (index_bits * i)``. ``leaf_levels``
    are the levels at which a leaf (a page or superpage) may appear.
    """

    name: str
    architecture: Architecture
    levels: int
    index_bits: int = 9
    pte_size: int = 8
    page_shift: int = 12
    leaf_levels: tuple[int, ...] = ()

    @property
    def va_bits(self) -> int:
        """Width of a virtual address; the bits above must sign-extend bit ``va_bits - 1``."""
        return self.page_shift + self.levels * self.index_bits

    def page_shift_at(self, level: int) -> int:
        return self.page_shift + self.index_bits * level

    def page_size_at(self, level: int) -> int:
        return 1 << self.page_shift_at(level)

    def index(self, va: int, level: int) -> int:
        """The table index of ``va`` at ``level``."""
        return (va >> self.page_shift_at(level)) & ((1 << self.index_bits) - 1)


SV39 = PagingMode("Sv39", Architecture.RISCV64, levels=3, leaf_levels=(0, 1, 2))
SV48 = PagingMode("Sv48", Architecture.RISCV64, levels=4, leaf_levels=(0, 1, 2, 3))
SV57 = PagingMode("Sv57", Architecture.RISCV64, levels=5, leaf_levels=(0, 1, 2, 3, 4))
X86_64_4LEVEL = PagingMode("x86-64 4-level", Architecture.X86_64, levels=4, leaf_levels=(0, 1, 2))
X86_64_5LEVEL = PagingMode(
    "x86-64 5-level (LA57)", Architecture.X86_64, levels=5, leaf_levels=(0, 1, 2)
)

RISCV_SATP_MODES = {8: SV39, 9: SV48, 10: SV57}
"""satp.MODE values of RV64."""


def root_from_satp(satp: int) -> tuple[PagingMode | None, int, int]:
    """Split an RV64 satp into (mode or None for Bare, root table address, ASID)."""
    mode = RISCV_SATP_MODES.get(satp >> 60)
    return mode, (satp & ((1 << 44) - 1)) << 12, (satp >> 44) & 0xFFFF


def root_from_cr3(cr3: int, pcide: bool = False) -> tuple[int, int]:
    """Split CR3 into (root table address, PCID); the PCID is 0 unless CR4.PCIDE is set."""
    return cr3 & 0x000F_FFFF_FFFF_F000, (cr3 & 0xFFF) if pcide else 0
