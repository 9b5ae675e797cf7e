"""What the walkers need from memory: 8-byte little-endian physical reads and writes."""

from __future__ import annotations

from typing import Protocol


class PhysicalMemory(Protocol):
    """Guest physical memory as the walkers see it (``GuestMemory`` satisfies it).

    Both methods raise ``MemoryAccessError`` for an address outside memory.
    """

    def read(self, address: int, size: int, /) -> int: ...

    def write(self, address: int, size: int, value: int, /) -> None: ...
