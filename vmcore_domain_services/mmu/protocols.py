"""What the walkers need from memory: 8-byte little-endian physical reads and writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class PhysicalMemory(Protocol):
    """Guest physical memory as the walkers see it (``GuestMemory`` satisfies it).

    Both methods raise ``MemoryAccessError`` for an address outside memory.
    """

    def read(self, address: int, size: int, /) -> int: ...

    def write(self, address: int, size: int, value: int, /) -> None: ...


def u64_reader(memory: PhysicalMemory) -> Callable[[int], int]:
    """An 8-byte load for a walk: ``GuestMemory.read_u64`` when the memory has one (no size
    dispatch per PTE), else ``memory.read(address, 8)``."""
    read_u64: Callable[[int], int] | None = getattr(memory, "read_u64", None)
    if read_u64 is not None:
        return read_u64
    read = memory.read
    return lambda address: read(address, 8)
