"""The devices of the ``virt``-like machine, as MMIO callbacks on guest memory.

- :class:`Uart`: a 16550-style UART at ``0x1000_0000``; bytes written to THR go to the
  console callback, LSR always reports the transmitter empty, nothing is ever received.
- :class:`TestFinisher`: SiFive's test device at ``0x10_0000``; writing ``0x5555`` ends the
  run with exit code 0, ``(code << 16) | 0x3333`` with ``code``. The write raises
  :class:`~.errors.Resync` so the block stops right after the store.
- :class:`Clint`: ``msip``, ``mtimecmp`` and ``mtime`` at ``0x200_0000``. Time is
  deterministic: ``mtime`` is the retired-instruction count plus an offset, so a run
  restored from a snapshot takes its timer interrupts at exactly the same instructions.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import Resync

__all__ = ["CLINT_BASE", "FINISHER_BASE", "UART_BASE", "Clint", "TestFinisher", "Uart"]

UART_BASE = 0x1000_0000
FINISHER_BASE = 0x10_0000
CLINT_BASE = 0x200_0000
_LSR_THRE_TEMT = 0x60


class Uart:
    """Transmit-only 16550: writes to offset 0 are console output."""

    size = 0x100

    def __init__(self, console: Callable[[bytes], None]) -> None:
        self.console = console

    def read(self, offset: int, size: int) -> int:
        return _LSR_THRE_TEMT if offset == 5 else 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == 0:
            self.console(bytes([value & 0xFF]))


class TestFinisher:
    """Records the guest's exit request; the machine stops at the next block boundary."""

    __test__ = False
    size = 0x1000
    PASS = 0x5555
    FAIL = 0x3333

    def __init__(self) -> None:
        self.exit_code: int | None = None

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset != 0:
            return
        status = value & 0xFFFF
        if status == self.PASS:
            self.exit_code = 0
        elif status == self.FAIL:
            self.exit_code = (value >> 16) & 0xFFFF
        else:
            return
        raise Resync()


class Clint:
    """Core-local interruptor of one hart, with time derived from ``instret``."""

    size = 0x10000
    MSIP = 0x0
    MTIMECMP = 0x4000
    MTIME = 0xBFF8

    def __init__(self, instret: Callable[[], int]) -> None:
        self._instret = instret
        self.mtimecmp = (1 << 64) - 1
        self.time_offset = 0
        self.msip = 0

    def mtime(self) -> int:
        return (self._instret() + self.time_offset) & ((1 << 64) - 1)

    def pending(self) -> int:
        """The mip bits this CLINT drives: MTIP (bit 7) and MSIP (bit 3)."""
        return (0x80 if self.mtime() >= self.mtimecmp else 0) | (0x8 if self.msip else 0)

    def instructions_until_timer(self) -> int:
        """How many more instructions retire before ``mtime`` reaches ``mtimecmp``."""
        return max(0, self.mtimecmp - self.mtime())

    def read(self, offset: int, size: int) -> int:
        if offset == self.MSIP:
            return self.msip
        if self.MTIMECMP <= offset < self.MTIMECMP + 8:
            return self._part(self.mtimecmp, offset - self.MTIMECMP, size)
        if self.MTIME <= offset < self.MTIME + 8:
            return self._part(self.mtime(), offset - self.MTIME, size)
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        self._write(offset, size, value)
        raise Resync()  # interrupt state may have changed: end the block here

    def _write(self, offset: int, size: int, value: int) -> None:
        if offset == self.MSIP:
            self.msip = value & 1
        elif self.MTIMECMP <= offset < self.MTIMECMP + 8:
            self.mtimecmp = self._merge(self.mtimecmp, offset - self.MTIMECMP, size, value)
        elif self.MTIME <= offset < self.MTIME + 8:
            new = self._merge(self.mtime(), offset - self.MTIME, size, value)
            self.time_offset = (new - self._instret()) & ((1 << 64) - 1)

    @staticmethod
    def _part(value: int, shift: int, size: int) -> int:
        return (value >> (8 * shift)) & ((1 << (8 * size)) - 1)

    @staticmethod
    def _merge(old: int, shift: int, size: int, value: int) -> int:
        mask = ((1 << (8 * size)) - 1) << (8 * shift)
        return (old & ~mask) | ((value << (8 * shift)) & mask)
