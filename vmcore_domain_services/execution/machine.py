"""The execution manager: a ``virt``-like RV64 machine and its tiered run loop.

Cold code runs in the interpreter; a block start executed ``hot_threshold`` times is lifted,
optimised and compiled to a Python function, cached by (pc, address-space id, privilege) and
run from then on (``exec.hotspot`` and ``exec.block_translated`` runtime events). Both tiers
retire exactly the same instructions with exactly the same effects, so ``max_instructions``
is exact and a run restored from a snapshot continues exactly as if it had never stopped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from attrs import frozen

from vmcore.domain.runtime import RuntimeEvent, RuntimePublisher, discard_runtime_event
from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu.access import Privilege
from vmcore_domain_services.riscv.csr import Csr
from vmcore_domain_services.riscv.devices import (
    CLINT_BASE,
    FINISHER_BASE,
    UART_BASE,
    Clint,
    TestFinisher,
    Uart,
)
from vmcore_domain_services.riscv.elf import ElfImage, load_elf
from vmcore_domain_services.riscv.errors import GuestTrap, Resync
from vmcore_domain_services.riscv.hart import Hart, enter_trap, pending_interrupt
from vmcore_domain_services.riscv.interpreter import Interpreter, SystemHooks
from vmcore_domain_services.riscv.passes import DEFAULT_PASSES, Pass
from vmcore_domain_services.riscv.port import MemoryPort

from .code_cache import CachedBlock, CodeCache
from .debugging import DebugStop, DebugSupport
from .results import HaltReason, RunResult
from .snapshot import MachineState, capture, restore
from .translation import PythonBackend, SourceBlock, translate_block

__all__ = ["RAM_BASE", "Machine", "TieringPolicy"]

RAM_BASE = 0x8000_0000
_SLICE = 1 << 16
_MTIE = 1 << 7


def _never(x: list[int], budget: int) -> tuple[int, int]:
    raise AssertionError("the cold-block marker is never run")


_COLD = CachedBlock(0, _never, 1 << 62, frozenset())
"""Lookup default for a pc with no cache entry: too long to run, so it is interpreted."""


def _stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@frozen
class TieringPolicy:
    """When to translate: after ``hot_threshold`` executions of a block start (0: at once).

    ``translate=False`` keeps everything in the interpreter; ``passes`` are the IR passes
    the translator runs (an empty tuple turns optimisation off).
    """

    hot_threshold: int = 8
    translate: bool = True
    max_block_insns: int = 64
    passes: tuple[Pass, ...] = DEFAULT_PASSES


class Machine(SystemHooks, DebugSupport):
    """One RV64IMAC hart with RAM at ``0x8000_0000``, a UART, a test finisher and a CLINT."""

    def __init__(
        self,
        memory_size: int = 64 << 20,
        console: Callable[[bytes], None] = _stdout,
        publisher: RuntimePublisher = discard_runtime_event,
        vm_id: UUID | None = None,
        tiering: TieringPolicy | None = None,
    ) -> None:
        self.memory = GuestMemory(memory_size, RAM_BASE)
        self.clint = Clint(lambda: self.hart.instret)
        self.hart = Hart(self.clint.mtime, self.clint.pending)
        self.port = MemoryPort(self.memory, self.hart, publisher)
        self.uart = Uart(console)
        self.finisher = TestFinisher()
        for base, device in ((UART_BASE, self.uart), (FINISHER_BASE, self.finisher),
                             (CLINT_BASE, self.clint)):  # fmt: skip
            self.memory.map_mmio(base, device.size, device.read, device.write)
        self.interpreter = Interpreter(self.hart, self.port, self)
        self.tiering = tiering or TieringPolicy()
        self.cache = CodeCache()
        self.backend = PythonBackend(self.port.block_functions(), passes=self.tiering.passes)
        self.publisher = publisher
        self.vm_id = vm_id
        self.port.mmu.vm_id = vm_id
        self._heat: dict[tuple[int, int, int], int] = {}
        self._pause_requested = False
        self._last_capture: MachineState | None = None
        self._interpret_next = False
        self._init_debugging()
        self.hart.csr.on_translation_change = self._translation_changed
        self.hart.on_privilege_change = self.port.flush
        self.port.on_code_write = self._code_written
        self.hart.pc = RAM_BASE

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_elf(
        cls,
        path: str | Path,
        memory_size: int = 64 << 20,
        console: Callable[[bytes], None] = _stdout,
        **options: object,
    ) -> Machine:
        """A machine with ``path`` loaded and the pc at its entry point."""
        machine = cls(memory_size, console, **options)  # type: ignore[arg-type]
        machine.load_elf(path)
        return machine

    def load_elf(self, path: str | Path) -> ElfImage:
        image = load_elf(path, self.memory)
        self.hart.pc = image.entry
        self.image = image
        return image

    # -- identity and bus --------------------------------------------------------------------
    def attach(self, vm_id: UUID) -> None:
        """Name the VM this machine runs: its runtime events and its MMU's carry the id, and
        the MMU's handlers react only to that VM's domain events."""
        self.vm_id = vm_id
        self.port.mmu.vm_id = vm_id

    def bus_handlers(self) -> dict[str, Callable[[object], None]]:
        """Domain topics the machine reacts to (its MMU flushes the TLB on stop/restore ...)."""
        return self.port.mmu.bus_handlers()

    # -- control -----------------------------------------------------------------------------
    def request_pause(self) -> None:
        """Ask a running :meth:`run` to return PAUSED at the next block boundary (thread-safe)."""
        self._pause_requested = True  # one attribute store: atomic under the GIL

    @property
    def instret(self) -> int:
        """Guest instructions retired since reset."""
        return self.hart.instret

    def run(self, max_instructions: int | None = None) -> RunResult:
        """Run until the guest exits, faults unhandled, a pause is honoured, or the limit."""
        hart = self.hart
        start = hart.instret
        end = None if max_instructions is None else start + max_instructions
        while True:
            if self.finisher.exit_code is not None:
                return self._result(HaltReason.EXITED, start, exit_code=self.finisher.exit_code)
            if self._pause_requested:
                self._pause_requested = False
                return self._result(HaltReason.PAUSED, start)
            if end is not None and hart.instret >= end:
                return self._result(HaltReason.LIMIT, start)
            irq = pending_interrupt(hart) if hart.csr.values[Csr.MIE] else None
            if irq is not None:
                if self._unhandled(irq, True, hart.pc):
                    return self._result(HaltReason.FAULT, start, cause=irq | 1 << 63, tval=0)
                enter_trap(hart, irq, 0, interrupt=True)
                continue
            budget = _SLICE if end is None else min(_SLICE, end - hart.instret)
            if hart.csr.values[Csr.MIE] & _MTIE:
                until = self.clint.instructions_until_timer()
                if until > 0:
                    budget = min(budget, until)
            try:
                self._run_slice(budget)
            except GuestTrap as trap:
                self.port.translated = False
                hart.instret += trap.retired
                hart.pc = trap.pc
                if trap.cause < 0:  # DeviceAccess: redo that instruction in the interpreter
                    self._interpret_next = True
                    continue
                if self._unhandled(trap.cause, False, trap.pc):
                    return self._result(HaltReason.FAULT, start, cause=trap.cause, tval=trap.tval)
                enter_trap(hart, trap.cause, trap.tval)
            except Resync as resync:
                self.port.translated = False
                hart.instret += resync.retired
                hart.pc = resync.next_pc
            except DebugStop:
                return self._result(HaltReason.DEBUG, start)

    def _run_slice(self, budget: int) -> None:
        """Run blocks until ``budget`` is used up or the interpreter ran a block.

        The hot loop keeps pc and the retired count in locals and writes them back when it
        leaves (normally, or through a GuestTrap/Resync whose counts are block-relative).
        """
        hart, port = self.hart, self.port
        if self._interpret_next:
            self._interpret_next = False
            self._interpret(budget)
            return
        x = hart.x
        asid = port.asid()
        priv = hart.priv
        get = self.cache.table(asid, priv).get
        translate = self.tiering.translate
        pc = hart.pc
        instret = hart.instret
        port.translated = True
        try:
            while budget > 0:
                block = get(pc, _COLD)
                if block is _COLD and translate:
                    block = self._maybe_translate(pc, asid, priv)
                if block is None or block.instructions > budget:
                    break
                pc, n = block.fn(x, budget)
                instret += n
                budget -= n
                if self._pause_requested:
                    budget = 0
        finally:
            port.translated = False
            hart.pc = pc
            hart.instret = instret
        if budget > 0:
            self._interpret(budget)

    def _interpret(self, budget: int) -> None:
        """Interpret one block (one instruction at a time while debugging)."""
        if not self.breakpoints and not self.port.watches:
            self.interpreter.run_block(budget)
        else:
            self._interpret_debugged(budget)

    def _maybe_translate(self, pc: int, asid: int, priv: int) -> CachedBlock | None:
        if pc in self.breakpoints:
            return None
        key = (pc, asid, priv)
        heat = self._heat.get(key, 0) + 1
        self._heat[key] = heat
        if heat < self.tiering.hot_threshold:
            return None
        del self._heat[key]
        self._publish("exec.hotspot", pc=pc, asid=asid, privilege=priv, executions=heat)
        port = self.port

        def page_of(va: int) -> int:
            return port.fetch_page(va) >> 12

        src = SourceBlock(pc, port.fetch, page_of, priv, self._block_limit(pc))
        translated = translate_block(src, "riscv64", self.backend)
        if translated is None:
            self.cache.insert(asid, priv, pc, None)
            return None
        ranges = []
        for va, length in zip(translated.ir.pcs, translated.ir.lengths, strict=True):
            pa = port.fetch_page(va) | (va & 4095)
            ranges.append((pa, pa + length))
        block = CachedBlock(
            pc,
            translated.fn,
            len(translated.ir.pcs),
            translated.pages,
            tuple(ranges),
            translated.source,
        )
        for page in block.pages:
            port.add_code_page(page)
        self.cache.insert(asid, priv, pc, block)
        self._publish(
            "exec.block_translated",
            pc=pc,
            asid=asid,
            privilege=priv,
            guest_instructions=len(translated.ir.pcs),
            ir_ops=translated.ir_ops_before,
            ir_ops_optimised=len(translated.ir.ops),
            pages=sorted(block.pages),
        )
        return block

    def _publish(self, topic: str, **data: object) -> None:
        self.publisher(RuntimeEvent(topic, self.vm_id, data))

    def _unhandled(self, cause: int, interrupt: bool, pc: int) -> bool:
        """True when the trap has nowhere to go: its vector is 0 or it faulted there."""
        values = self.hart.csr.values
        deleg = values[Csr.MIDELEG if interrupt else Csr.MEDELEG]
        to_s = self.hart.priv <= Privilege.S and (deleg >> cause) & 1
        base = values[Csr.STVEC if to_s else Csr.MTVEC] & ~3
        return base == 0 or (not interrupt and pc == base)

    def _result(self, reason: HaltReason, start: int, **extra: int | None) -> RunResult:
        return RunResult(reason, self.hart.instret - start, self.hart.pc, **extra)

    # -- system hooks (called by the interpreter) ------------------------------------------
    def fence_i(self) -> None:
        self._drop_code()

    def sfence_vma(self, va: int | None, asid: int | None) -> None:
        self.port.sfence_vma(va, asid)
        self._drop_code()

    def _drop_code(self) -> None:
        self._code_epoch += 1
        self.cache.flush()
        self.port.code_pages.clear()

    def _code_written(self, pa: int, size: int) -> bool:
        hit = self.cache.invalidate_range(pa, pa + size)
        if not self.cache.has_code(pa >> 12):
            self.port.code_pages.discard(pa >> 12)
        return hit > 0

    def _translation_changed(self) -> None:
        self.port.flush()

    # -- snapshots ----------------------------------------------------------------------------
    def capture_state(self, base: MachineState | None = None) -> MachineState:
        """Registers, pc, privilege, CSRs, devices and memory pages (content-addressed).

        With ``base`` the state is a diff: it stores only pages written since ``base`` was
        captured (or restored) and refers to ``base`` for the rest.
        """
        dirty = (
            self.memory.dirty_pages() if base is not None and base is self._last_capture else None
        )
        state = capture(self, base, dirty)
        self.memory.clear_dirty()
        self._last_capture = state
        return state

    def restore(self, state: MachineState, keep_code: bool = False) -> None:
        """Make this machine's state exactly ``state`` (memory sizes must match).

        ``keep_code`` keeps the translated blocks whose code bytes the restore leaves as
        they were, when no address translation is involved before or after (satp bare);
        otherwise, and for changed pages, translated code is dropped.
        """
        satp = state.csrs.get(f"{Csr.SATP:#05x}", 0)
        bare = keep_code and self.hart.csr.satp >> 60 == 0 and satp >> 60 == 0
        code = {page: self.memory.read_bytes(page << 12, 4096)
                for page in self.cache.by_page} if bare else {}
        restore(self, state)
        if bare:
            for page, data in code.items():
                if self.memory.read_bytes(page << 12, 4096) != data:
                    self.cache.invalidate_page(page)
            self.port.code_pages.clear()
            self.port.code_pages.update(self.cache.by_page)
        else:
            self._code_epoch += 1
            self.cache.flush()
            self.port.code_pages.clear()
        self._heat.clear()
        self.port.mmu.flush_tlb("restore")
        self.port.flush()
        self.memory.clear_dirty()
        self._last_capture = state
        self._pause_requested = False
        self._interpret_next = False
