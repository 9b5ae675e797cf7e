"""Our model of the probe guest's physical memory, and the paging structures every case shares.

The tables region (``TABLES_PA``..``TABLES_END``) is ordinary model RAM: the host builds every
table there and loads the same bytes into QEMU. The pattern region is served by a window that
returns each word's own address, as the probe fills it at boot. Anything else reads as
"outside memory" in the model: generated entries only ever point into these two regions or
above QEMU's RAM.

Every root gets two reserved top-level entries, as the probe needs them in each case's
address space (and our model must see the same ones): ``IDENTITY_SLOT`` maps the first
4 GiB identity with supervisor 1 GiB pages, and ``USER_SLOT`` maps the probe's CPL-3 stub
page user-accessible. Their A and D bits are preset, so no walk ever writes them.
"""

from __future__ import annotations

from tests.differential.qemu_system.x86_layout import (
    IDENTITY_SLOT,
    PATTERN_END,
    PATTERN_PA,
    TABLES_END,
    TABLES_PA,
    USER_SLOT,
    USER_STUB_PA,
)
from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import PageTableBuilder, PagingMode

P, RW, US, A, D, PS, G = 1, 2, 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
ADDRESS_MASK = 0x000F_FFFF_FFFF_F000


def model_memory() -> GuestMemory:
    """The tables region as RAM plus the pattern region as a read-only window."""
    memory = GuestMemory(TABLES_END - TABLES_PA, TABLES_PA)

    def read(offset: int, size: int) -> int:
        start = PATTERN_PA + offset
        word = start & ~7
        raw = word.to_bytes(8, "little") + (word + 8).to_bytes(8, "little")
        return int.from_bytes(raw[start - word : start - word + size], "little")

    def write(offset: int, size: int, value: int) -> None:
        raise AssertionError(f"the model wrote the pattern region at {PATTERN_PA + offset:#x}")

    memory.map_mmio(PATTERN_PA, PATTERN_END - PATTERN_PA, read, write)
    return memory


def pattern_word(physical_address: int) -> int:
    return physical_address & ~7


def in_pattern(physical_address: int, size: int = 8) -> bool:
    return PATTERN_PA <= physical_address and physical_address + size <= PATTERN_END


def in_tables(physical_address: int, size: int = 8) -> bool:
    return TABLES_PA <= physical_address and physical_address + size <= TABLES_END


class ProbeAddressSpaces:
    """Allocates tables upward in the tables region; every root shares the reserved slots."""

    def __init__(self, mode: PagingMode, memory: GuestMemory) -> None:
        self.mode = mode
        self.memory = memory
        self.cursor = TABLES_PA
        self.user_stub_va = USER_SLOT << mode.page_shift_at(mode.levels - 1)
        self._slot_entries = {
            IDENTITY_SLOT: self._identity_entry(),
            USER_SLOT: self._user_entry(),
        }
        self.boot_root = self.builder().root

    def builder(self, table_flags: int | None = None) -> PageTableBuilder:
        """A builder whose root already holds the reserved slots; call :meth:`close` after
        mapping with it, before the next one."""
        builder = PageTableBuilder(self.mode, self.memory, self.cursor, table_flags)
        for slot, entry in self._slot_entries.items():
            self.memory.write(builder.root + slot * 8, 8, entry)
        self.close(builder)
        return builder

    def close(self, builder: PageTableBuilder) -> None:
        self.cursor = builder.next_table
        if self.cursor > TABLES_END:
            raise OverflowError("the tables region is full")

    def table_bytes(self) -> bytes:
        return self.memory.read_bytes(TABLES_PA, self.cursor - TABLES_PA)

    def _allocate(self) -> int:
        address = self.cursor
        self.memory.write_bytes(address, bytes(4096))
        self.cursor += 4096
        return address

    def _identity_entry(self) -> int:
        pdpt = self._allocate()
        for gib in range(4):
            self.memory.write(pdpt + gib * 8, 8, (gib << 30) | P | RW | A | D | PS | G)
        table = pdpt
        for _ in range(self.mode.levels - 4):
            upper = self._allocate()
            self.memory.write(upper, 8, table | P | RW | A)
            table = upper
        return table | P | RW | A

    def _user_entry(self) -> int:
        builder = PageTableBuilder(self.mode, self.memory, self.cursor, P | RW | US | A)
        builder.map(self.user_stub_va, USER_STUB_PA, P | US | A)
        self.cursor = builder.next_table
        entry: int = self.memory.read(builder.root + USER_SLOT * 8, 8)
        return entry
