"""Exceptions that carry architectural events out of the execution tiers.

They are raised deep inside a load, a store or a block and caught in exactly one place, the
run loop, which turns a :class:`GuestTrap` into trap delivery (or a crash report).
"""

from __future__ import annotations

__all__ = ["Cause", "DeviceAccess", "GuestTrap", "Resync", "WatchHit"]


class Cause:
    """RISC-V exception cause codes (``mcause`` with the interrupt bit clear)."""

    FETCH_MISALIGNED = 0
    FETCH_ACCESS = 1
    ILLEGAL_INSTRUCTION = 2
    BREAKPOINT = 3
    LOAD_MISALIGNED = 4
    LOAD_ACCESS = 5
    STORE_MISALIGNED = 6
    STORE_ACCESS = 7
    ECALL_U = 8
    ECALL_S = 9
    ECALL_M = 11
    FETCH_PAGE_FAULT = 12
    LOAD_PAGE_FAULT = 13
    STORE_PAGE_FAULT = 15


class GuestTrap(Exception):
    """A synchronous exception: the instruction at ``pc`` did not complete.

    ``retired`` is how many instructions of the current block completed before it; the tier
    that raised it fills ``pc`` and ``retired`` in before it propagates to the run loop.
    """

    def __init__(self, cause: int, tval: int = 0) -> None:
        super().__init__(cause, tval)
        self.cause = cause
        self.tval = tval
        self.pc = 0
        self.retired = 0


class DeviceAccess(GuestTrap):
    """Raised by a translated block *before* a load or store that reaches a device.

    The run loop sets ``pc`` and continues in the interpreter, which performs the access
    with an exact retired-instruction count (devices read time from it) and stops its block
    right after any device write that can change interrupt state.
    """

    def __init__(self) -> None:
        super().__init__(-1, 0)


class Resync(Exception):
    """The instruction at ``pc`` completed but the block must stop right after it.

    Raised by a store that hit translated code (self-modifying code) or a device that asked
    the machine to stop (the test finisher). ``next_pc`` is filled in like ``GuestTrap.pc``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.next_pc = 0
        self.retired = 0


class WatchHit(Exception):
    """A load or store is about to touch a range a debugger watches; the instruction has no
    effect (raised by the interpreter tier only, before the access)."""

    def __init__(self, kind: str, address: int) -> None:
        super().__init__(kind, address)
        self.kind = kind
        self.address = address
