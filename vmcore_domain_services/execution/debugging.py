"""Debugger support for the machine: breakpoints, watchpoints and their stops.

Breakpoints never slow the translated tier down: a breakpoint drops only the translated
blocks holding its pc (kept aside and put back when it goes, as gdb's software single-step
inserts and removes one per ``stepi``), later translations end just before it, and the run
loop hands a pc without a translated block to the interpreter, which checks breakpoints
before each instruction. Watched pages leave the memory port's micro-TLBs, so only their
accesses take the slow path, where the interpreter stops before the access
(:class:`~vmcore_domain_services.riscv.errors.WatchHit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmcore_domain_services.riscv.errors import GuestTrap, WatchHit

from .code_cache import CachedBlock

if TYPE_CHECKING:
    from vmcore_domain_services.memory import GuestMemory
    from vmcore_domain_services.riscv.hart import Hart
    from vmcore_domain_services.riscv.interpreter import Interpreter
    from vmcore_domain_services.riscv.port import MemoryPort

    from .code_cache import CodeCache
    from .machine import TieringPolicy

__all__ = ["DebugStop", "DebugSupport"]


class DebugStop(Exception):
    """A breakpoint or watchpoint stops the run (raised by the interpreter path only)."""


class DebugSupport:
    """Mixed into :class:`~.machine.Machine`."""

    hart: Hart
    port: MemoryPort
    memory: GuestMemory
    cache: CodeCache
    interpreter: Interpreter
    tiering: TieringPolicy

    def _init_debugging(self) -> None:
        self.breakpoints: set[int] = set()
        """Virtual pcs a run stops before (debugger breakpoints); see :meth:`add_breakpoint`."""
        self.debug_skip: tuple[int, int] | None = None
        """(pc, instret): the breakpoint at pc is not reported at exactly that instret (the
        debugger resumes from it)."""
        self.watch_skip: tuple[int, int] | None = None
        """(pc, instret): that instruction's watched access is let through (gdb itself steps
        over a watch stop with its watchpoints removed, so only re-execution uses this)."""
        self._stashed: dict[int, tuple[int, list[tuple[int, int, CachedBlock, bytes]]]] = {}
        """Blocks a breakpoint displaced, by its pc: (code epoch, [(asid, priv, block, its
        code bytes)]), put back when the breakpoint goes if nothing changed meanwhile."""
        self._code_epoch = 0
        self.debug_hit: tuple[str, int] | None = None
        """Why the last run stopped with HaltReason.DEBUG: ("break", pc) or a watch kind and
        the data address."""

    def _interpret_debugged(self, budget: int) -> None:
        """Interpret one instruction at a time, stopping before a breakpoint's pc and before
        a watched access; a control transfer ends the block."""
        port = self.port
        hart, breakpoints = self.hart, self.breakpoints
        for _ in range(budget):
            pc = hart.pc
            here = (pc, hart.instret)
            if pc in breakpoints and self.debug_skip != here:
                self.debug_hit = ("break", pc)
                raise DebugStop()
            port.watch_armed = self.watch_skip != here
            try:
                self.interpreter.run_block(1)
            except WatchHit as hit:
                self.debug_hit = (hit.kind, hit.address)
                raise DebugStop() from None
            finally:
                port.watch_armed = True
            if hart.pc - pc not in (2, 4):
                return

    def add_breakpoint(self, pc: int) -> None:
        """Stop runs before the instruction at virtual ``pc``. Only the translated blocks
        holding that pc are dropped; retranslated blocks end before it, so the breakpoint's
        pc always starts a block and only that block runs in the interpreter."""
        if pc in self.breakpoints:
            return
        self.breakpoints.add(pc)
        try:
            pa = self.port.fetch_page(pc) | (pc & 4095)
        except GuestTrap:
            return  # not mapped now; blocks are cut at the pc whenever it is translated
        displaced = []
        for asid, priv, start in self.cache.by_page.get(pa >> 12, ()):
            block = self.cache.tables.get((asid, priv), {}).get(start)
            if block is not None and any(lo < pa + 2 and pa < hi for lo, hi in block.ranges):
                displaced.append((asid, priv, block, self._code_bytes(block)))
        self.cache.invalidate_range(pa, pa + 2)
        self._stashed[pc] = (self._code_epoch, displaced)

    def remove_breakpoint(self, pc: int) -> None:
        """Forget a breakpoint. The blocks it displaced come back (gdb inserts and removes a
        breakpoint around every software single-step) unless translated code was dropped
        meanwhile, their bytes changed, or another breakpoint lies in them."""
        self.breakpoints.discard(pc)
        epoch, displaced = self._stashed.pop(pc, (-1, []))
        if epoch != self._code_epoch:
            return
        others = set()
        for other in self.breakpoints:
            try:
                others.add(self.port.fetch_page(other) | (other & 4095))
            except GuestTrap:
                continue
        for asid, priv, block, code in displaced:
            if self._code_bytes(block) != code or any(
                    lo <= pa < hi for pa in others for lo, hi in block.ranges):
                continue
            self.cache.insert(asid, priv, block.pc, block)
            for page in block.pages:
                self.port.add_code_page(page)

    def _code_bytes(self, block: CachedBlock) -> bytes:
        return b"".join(self.memory.read_bytes(lo, hi - lo) for lo, hi in block.ranges)

    def set_watchpoints(self, watches: list[tuple[str, int, int]]) -> None:
        """Watch virtual ranges ``(kind, start, end)``: kind "watch" (writes), "rwatch"
        (reads) or "awatch" (both). A run stops with HaltReason.DEBUG at the
        accessing instruction (which has not run yet); only accesses to the watched pages
        leave the fast path."""
        self.port.set_watches(watches)

    def _block_limit(self, pc: int) -> int:
        """How many instructions a block at ``pc`` may hold: it must end before any
        breakpoint that follows pc in straight-line code."""
        limit = self.tiering.max_block_insns
        if not self.breakpoints:
            return limit
        va = pc
        for count in range(limit):
            if count and va in self.breakpoints:
                return count
            try:
                va += 4 if self.port.fetch(va) & 3 == 3 else 2
            except GuestTrap:
                break
        return limit
