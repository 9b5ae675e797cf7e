"""The one exception guest physical memory raises."""

from __future__ import annotations

from enum import Enum


class AccessKind(Enum):
    """What a physical access was doing when it failed."""

    READ = "read"
    WRITE = "write"


class MemoryAccessError(Exception):
    """A physical access outside RAM and every MMIO region, or of an unsupported size.

    Guest memory raises this instead of returning a result object: the executor performs
    millions of loads and stores per second and the common case (a successful access) must
    cost nothing extra. The walker and the executor catch it at exactly one place each and
    turn it into an architectural access fault.
    """

    def __init__(self, address: int, size: int, kind: AccessKind, reason: str) -> None:
        self.address = address
        self.size = size
        self.kind = kind
        self.reason = reason
        super().__init__(f"guest physical {kind.value} of {size} byte(s) at {address:#x}: {reason}")
