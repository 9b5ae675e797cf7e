"""Memory-mapped I/O regions: a physical window served by two callbacks."""

from __future__ import annotations

from collections.abc import Callable

from attrs import frozen

MmioRead = Callable[[int, int], int]
"""``read(offset, size) -> value``: offset is relative to the region base."""

MmioWrite = Callable[[int, int, int], None]
"""``write(offset, size, value)``: offset is relative to the region base."""


@frozen
class MmioRegion:
    """A device window ``[base, base + size)`` of guest physical address space."""

    base: int
    size: int
    read: MmioRead
    write: MmioWrite

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, address: int, size: int) -> bool:
        return self.base <= address and address + size <= self.base + self.size

    def overlaps(self, base: int, size: int) -> bool:
        return base < self.base + self.size and self.base < base + size
