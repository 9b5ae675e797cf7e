"""Sparse, page-granular guest physical memory with MMIO windows and dirty-page tracking.

RAM is ``[base, base + size)``. Pages are allocated on first write (a never-written page
reads as zeros), kept in a dict ``page_number -> bytearray`` (and viewed as 64-bit words in
:attr:`GuestMemory.word_pages`, for the page-table walkers). Loads and stores are
little-endian and 1, 2, 4 or 8 bytes wide; an access inside one allocated page takes a fast
path of one dict lookup and one precompiled :mod:`struct` call. Everything else (first touch,
page-crossing, MMIO, out of bounds) goes through a slow path that raises
:class:`MemoryAccessError` when no RAM or MMIO region covers the access.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from vmcore_domain_services.memory.errors import AccessKind, MemoryAccessError
from vmcore_domain_services.memory.mmio import MmioRead, MmioRegion, MmioWrite

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
_OFFSET_MASK = PAGE_SIZE - 1

_UNPACK: dict[int, Callable[[bytearray, int], tuple[int]]] = {
    1: struct.Struct("<B").unpack_from,
    2: struct.Struct("<H").unpack_from,
    4: struct.Struct("<I").unpack_from,
    8: struct.Struct("<Q").unpack_from,
}
_PACK: dict[int, Callable[[bytearray, int, int], None]] = {
    1: struct.Struct("<B").pack_into,
    2: struct.Struct("<H").pack_into,
    4: struct.Struct("<I").pack_into,
    8: struct.Struct("<Q").pack_into,
}
_unpack_u64 = _UNPACK[8]
_LAST_U64 = PAGE_SIZE - 8
_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFF_FFFF, 8: 0xFFFF_FFFF_FFFF_FFFF}
_WORDS_ARE_LITTLE_ENDIAN = sys.byteorder == "little"  # memoryview "Q" is native-endian
_VIEWS = ("_words", "word_pages")  # rebuilt from _pages, never pickled


class SizedConfig(Protocol):
    """Anything with a memory size in bytes, such as ``vmcore.domain.VmConfig``."""

    @property
    def memory(self) -> int: ...


class GuestMemory:
    """Guest physical memory: RAM of ``size`` bytes at ``base`` plus MMIO windows."""

    __slots__ = (
        "_dirty",
        "_first_page",
        "_last_page",
        "_mmio",
        "_pages",
        "_words",
        "base",
        "size",
        "word_pages",
    )

    def __init__(self, size: int, base: int = 0x8000_0000) -> None:
        if size <= 0 or size % PAGE_SIZE:
            raise ValueError(f"memory size must be a positive multiple of {PAGE_SIZE}: {size}")
        if base < 0 or base % PAGE_SIZE:
            raise ValueError(f"memory base must be page-aligned and non-negative: {base:#x}")
        self.base = base
        self.size = size
        self._first_page = base >> PAGE_SHIFT
        self._last_page = (base + size - 1) >> PAGE_SHIFT
        self._pages: dict[int, bytearray] = {}
        self._words: dict[int, memoryview] = {}
        self.word_pages: Mapping[int, memoryview] = self._words
        """Read-only: allocated RAM page number -> that page as 512 little-endian u64 words.

        For hot readers of aligned words (the page-table walkers): ``word_pages[address >>
        12][(address & 0xFFF) >> 3]`` is ``read(address, 8)`` for an 8-byte aligned address
        in an allocated page. A page missing here may still be RAM (reads as zeros), MMIO
        or nothing: read it with :meth:`read`. Never write through it (no dirty tracking).
        Empty on a big-endian host."""
        self._dirty: set[int] = set()
        self._mmio: list[MmioRegion] = []

    def __getstate__(self) -> dict[str, object]:
        """For pickle and copy: everything but the word views (memoryviews do not pickle)."""
        return {name: getattr(self, name) for name in self.__slots__ if name not in _VIEWS}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._words = {}
        self.word_pages = self._words
        for page_number, page in self._pages.items():
            self._add_page(page_number, page)

    @classmethod
    def for_config(cls, config: SizedConfig, base: int = 0x8000_0000) -> GuestMemory:
        """RAM sized by a VM's configuration (``VmConfig.memory``)."""
        return cls(config.memory, base)

    @property
    def end(self) -> int:
        """One past the last RAM byte."""
        return self.base + self.size

    def in_ram(self, address: int, size: int = 1) -> bool:
        """True if ``[address, address + size)`` lies wholly in RAM."""
        return self.base <= address and address + size <= self.base + self.size

    def is_mapped(self, address: int, size: int = 1) -> bool:
        """True if RAM or one MMIO region covers ``[address, address + size)``."""
        return self.in_ram(address, size) or any(r.contains(address, size) for r in self._mmio)

    # -- loads and stores ----------------------------------------------------------------
    def read(self, address: int, size: int) -> int:
        """Load ``size`` (1/2/4/8) bytes little-endian; raises :class:`MemoryAccessError`."""
        page = self._pages.get(address >> PAGE_SHIFT)
        if page is not None:
            offset = address & _OFFSET_MASK
            if offset + size <= PAGE_SIZE:
                unpack = _UNPACK.get(size)
                if unpack is not None:
                    return unpack(page, offset)[0]
        return self._read_slow(address, size)

    def read_u64(self, address: int) -> int:
        """``read(address, 8)`` with the size fixed (page-table walks read nothing else)."""
        page = self._pages.get(address >> PAGE_SHIFT)
        if page is not None:
            offset = address & _OFFSET_MASK
            if offset <= _LAST_U64:
                return _unpack_u64(page, offset)[0]
        return self._read_slow(address, 8)

    def write(self, address: int, size: int, value: int) -> None:
        """Store the low ``size`` (1/2/4/8) bytes of ``value`` little-endian."""
        page_number = address >> PAGE_SHIFT
        page = self._pages.get(page_number)
        if page is not None:
            offset = address & _OFFSET_MASK
            if offset + size <= PAGE_SIZE:
                pack = _PACK.get(size)
                if pack is not None:
                    pack(page, offset, value & _MASK[size])
                    self._dirty.add(page_number)
                    return
        self._write_slow(address, size, value)

    def read_bytes(self, address: int, length: int) -> bytes:
        """Copy ``length`` bytes of RAM (never MMIO) starting at ``address``."""
        self._check_ram(address, length, AccessKind.READ)
        out = bytearray()
        while length > 0:
            page_number = address >> PAGE_SHIFT
            offset = address & _OFFSET_MASK
            chunk = min(length, PAGE_SIZE - offset)
            page = self._pages.get(page_number)
            out += page[offset : offset + chunk] if page is not None else bytes(chunk)
            address += chunk
            length -= chunk
        return bytes(out)

    def write_bytes(self, address: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` into RAM (never MMIO) starting at ``address``."""
        view = memoryview(data).cast("B")
        self._check_ram(address, len(view), AccessKind.WRITE)
        position = 0
        while position < len(view):
            page_number = address >> PAGE_SHIFT
            offset = address & _OFFSET_MASK
            chunk = min(len(view) - position, PAGE_SIZE - offset)
            self._page_for_write(page_number)[offset : offset + chunk] = view[
                position : position + chunk
            ]
            self._dirty.add(page_number)
            address += chunk
            position += chunk

    # -- MMIO -----------------------------------------------------------------------------
    def map_mmio(self, base: int, size: int, read: MmioRead, write: MmioWrite) -> MmioRegion:
        """Serve ``[base, base + size)`` with callbacks ``read(offset, size)`` and
        ``write(offset, size, value)``. The window may not overlap RAM or another window."""
        if size <= 0 or base < 0:
            raise ValueError(f"invalid MMIO window {base:#x}+{size:#x}")
        if base < self.end and self.base < base + size:
            raise ValueError(f"MMIO window {base:#x}+{size:#x} overlaps RAM")
        for region in self._mmio:
            if region.overlaps(base, size):
                raise ValueError(f"MMIO window {base:#x}+{size:#x} overlaps {region.base:#x}")
        region = MmioRegion(base, size, read, write)
        self._mmio.append(region)
        return region

    def unmap_mmio(self, base: int) -> None:
        """Remove the MMIO window starting at ``base``."""
        for index, region in enumerate(self._mmio):
            if region.base == base:
                del self._mmio[index]
                return
        raise KeyError(f"no MMIO window at {base:#x}")

    # -- dirty tracking and snapshots -----------------------------------------------------
    def dirty_pages(self) -> frozenset[int]:
        """Page numbers (address >> 12) written since the last :meth:`clear_dirty`."""
        return frozenset(self._dirty)

    def clear_dirty(self) -> None:
        self._dirty.clear()

    def pages(self) -> Iterator[tuple[int, bytes]]:
        """Every allocated RAM page, in address order, as ``(page_number, 4096 bytes)``."""
        for page_number in sorted(self._pages):
            yield page_number, bytes(self._pages[page_number])

    def load_page(self, page_number: int, data: bytes | bytearray) -> None:
        """Restore one page from a snapshot. Does not mark the page dirty: after a restore,
        dirty means "changed since the snapshot"."""
        if len(data) != PAGE_SIZE:
            raise ValueError(f"a page is {PAGE_SIZE} bytes, got {len(data)}")
        if not self._first_page <= page_number <= self._last_page:
            raise MemoryAccessError(
                page_number << PAGE_SHIFT, PAGE_SIZE, AccessKind.WRITE, "page outside RAM"
            )
        self._add_page(page_number, bytearray(data))

    def reset(self) -> None:
        """Drop every page (all RAM reads as zero again) and the dirty set."""
        self._pages.clear()
        self._words.clear()
        self._dirty.clear()

    @property
    def allocated_pages(self) -> int:
        return len(self._pages)

    # -- slow paths -----------------------------------------------------------------------
    def _read_slow(self, address: int, size: int) -> int:
        self._check_size(address, size, AccessKind.READ)
        if self.in_ram(address, size):
            return int.from_bytes(self.read_bytes(address, size), "little")
        region = self._mmio_for(address, size, AccessKind.READ)
        return region.read(address - region.base, size) & _MASK[size]

    def _write_slow(self, address: int, size: int, value: int) -> None:
        self._check_size(address, size, AccessKind.WRITE)
        if self.in_ram(address, size):
            self.write_bytes(address, (value & _MASK[size]).to_bytes(size, "little"))
            return
        region = self._mmio_for(address, size, AccessKind.WRITE)
        region.write(address - region.base, size, value & _MASK[size])

    def _page_for_write(self, page_number: int) -> bytearray:
        page = self._pages.get(page_number)
        if page is None:
            page = self._add_page(page_number, bytearray(PAGE_SIZE))
        return page

    def _add_page(self, page_number: int, page: bytearray) -> bytearray:
        self._pages[page_number] = page
        if _WORDS_ARE_LITTLE_ENDIAN:
            self._words[page_number] = memoryview(page).cast("Q").toreadonly()
        return page

    def _mmio_for(self, address: int, size: int, kind: AccessKind) -> MmioRegion:
        for region in self._mmio:
            if region.contains(address, size):
                return region
        raise MemoryAccessError(address, size, kind, "no RAM or MMIO region covers it")

    def _check_ram(self, address: int, length: int, kind: AccessKind) -> None:
        if length < 0 or not self.in_ram(address, length):
            raise MemoryAccessError(address, length, kind, "outside guest RAM")

    @staticmethod
    def _check_size(address: int, size: int, kind: AccessKind) -> None:
        if size not in _MASK:
            raise MemoryAccessError(address, size, kind, "size must be 1, 2, 4 or 8")
