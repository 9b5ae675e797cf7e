"""A debugger's view of a :class:`~vmcore_domain_services.execution.Machine`.

:class:`DebugTarget` reads and writes registers and memory, keeps breakpoints and
watchpoints, runs the guest in bounded slices (so a server can poll for Ctrl-C between
them) and steps and continues *backwards*: while the guest runs forward it captures a
machine snapshot every ``interval`` instructions (diffs: only pages written since the
previous one), and going back restores the latest snapshot before the target point and
re-executes forward from it. Execution is deterministic (time is the retired-instruction
count; the machine has no input devices), so re-execution retraces the forward run exactly
and a reverse step costs at most ``interval`` re-executed instructions. Console output is
muted while instructions that already ran once are re-executed.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from attrs import frozen

from vmcore_domain_services.execution import HaltReason, Machine, MachineState, RunResult
from vmcore_domain_services.mmu import Access
from vmcore_domain_services.riscv.errors import GuestTrap

__all__ = ["DebugAccessError", "DebugTarget", "Stop"]

_M64 = (1 << 64) - 1
SIGINT, SIGILL, SIGTRAP, SIGSEGV = 2, 4, 5, 11
REGISTERS = 33
"""x0..x31 and pc, in the order of the target description."""


class DebugAccessError(Exception):
    """The debugger named memory or a register that does not exist."""


@frozen
class Stop:
    """Why the guest stopped: a signal with an optional reason, or the guest's exit."""

    signal: int = SIGTRAP
    reason: str | None = None
    """"swbreak", "hwbreak", "watch", "rwatch", "awatch" or "replaylog"."""
    value: int | str | None = None
    """The data address of a watch stop; "begin" for the start of the recorded history."""
    exit_code: int | None = None


class DebugTarget:
    """Registers, memory, breakpoints, watchpoints, and forward/reverse execution."""

    def __init__(self, machine: Machine, interval: int = 10_000) -> None:
        if interval < 1:
            raise ValueError("the snapshot interval must be at least one instruction")
        self.machine = machine
        self.interval = interval
        self.hardware_breakpoints: set[int] = set()
        self.software_breakpoints: set[int] = set()
        self.watches: dict[tuple[str, int, int], int] = {}
        self._checkpoints: list[MachineState] = []
        self._instrets: list[int] = []
        """The checkpoints' instruction counts (sorted; the same order)."""
        self._frontier = machine.instret
        """The furthest instruction count reached: output before it was already shown."""
        self.replays = 0
        """Instructions re-executed for reverse execution (for tests and benchmarks)."""
        console = machine.uart.console
        self.console: Callable[[bytes], None] = console
        machine.uart.console = self._console
        self._checkpoint()

    # -- registers and memory ----------------------------------------------------------
    def registers(self) -> list[int]:
        return [*self.machine.hart.x, self.machine.hart.pc]

    def read_register(self, number: int) -> int:
        if not 0 <= number < REGISTERS:
            raise DebugAccessError(f"no register {number}")
        return self.registers()[number]

    def write_register(self, number: int, value: int) -> None:
        if not 0 <= number < REGISTERS:
            raise DebugAccessError(f"no register {number}")
        hart = self.machine.hart
        if number == 32:
            hart.pc = value & _M64
        elif number:
            hart.x[number] = value & _M64
        self._state_changed()

    def _chunks(self, address: int, length: int, access: Access) -> list[tuple[int, int]]:
        """(physical address, length) per page of a virtual range; only RAM is accessible."""
        if not 0 <= address <= _M64 - length:
            raise DebugAccessError(f"address {address:#x} out of range")
        chunks = []
        while length > 0:
            size = min(length, 4096 - (address & 4095))
            try:
                pa = self.machine.port.translate(address, access)
            except GuestTrap:
                raise DebugAccessError(f"{address:#x} is not mapped") from None
            if not self.machine.memory.in_ram(pa, size):
                raise DebugAccessError(f"{address:#x} is not RAM")
            chunks.append((pa, size))
            address += size
            length -= size
        return chunks

    def read_memory(self, address: int, length: int) -> bytes:
        """Guest-virtual bytes; only RAM (a debugger never touches devices)."""
        read = self.machine.memory.read_bytes
        return b"".join(read(pa, size) for pa, size in self._chunks(address, length,
                                                                    Access.LOAD))

    def write_memory(self, address: int, data: bytes) -> None:
        memory = self.machine.memory
        offset = 0
        for pa, size in self._chunks(address, len(data), Access.STORE):
            memory.write_bytes(pa, data[offset:offset + size])
            self.machine.cache.invalidate_range(pa, pa + size)  # the debugger may write code
            offset += size
        if data:
            self._state_changed()

    # -- breakpoints and watchpoints -----------------------------------------------------
    def add_breakpoint(self, address: int, hardware: bool = False) -> None:
        (self.hardware_breakpoints if hardware else self.software_breakpoints).add(address)
        self.machine.add_breakpoint(address)

    def remove_breakpoint(self, address: int, hardware: bool = False) -> None:
        (self.hardware_breakpoints if hardware else self.software_breakpoints).discard(address)
        if address not in self.hardware_breakpoints | self.software_breakpoints:
            self.machine.remove_breakpoint(address)

    def add_watchpoint(self, kind: str, address: int, length: int) -> None:
        key = (kind, address, address + max(length, 1))
        self.watches[key] = self.watches.get(key, 0) + 1
        self.machine.set_watchpoints(list(self.watches))

    def remove_watchpoint(self, kind: str, address: int, length: int) -> None:
        key = (kind, address, address + max(length, 1))
        if self.watches.get(key, 0) > 1:
            self.watches[key] -= 1
        else:
            self.watches.pop(key, None)
        self.machine.set_watchpoints(list(self.watches))

    def clear_debug_state(self) -> None:
        """Forget every breakpoint and watchpoint (detach)."""
        for address in self.software_breakpoints | self.hardware_breakpoints:
            self.machine.remove_breakpoint(address)
        self.software_breakpoints.clear()
        self.hardware_breakpoints.clear()
        self.watches.clear()
        self.machine.set_watchpoints([])

    # -- forward execution ----------------------------------------------------------------
    def resume(self) -> None:
        """Prepare to run from the current pc: a breakpoint there does not stop us at once."""
        self.machine.debug_skip = (self.machine.hart.pc, self.machine.instret)

    def advance(self, budget: int) -> Stop | None:
        """Run up to ``budget`` instructions; a Stop, or None when the budget ran out."""
        machine = self.machine
        end = machine.instret + budget
        while machine.instret < end:
            next_checkpoint = (machine.instret // self.interval + 1) * self.interval
            result = machine.run(min(end, next_checkpoint) - machine.instret)
            self._reached()
            if result.reason is HaltReason.LIMIT:
                continue
            return self._stop(result)
        return None

    def step(self) -> Stop:
        """Execute one instruction (a breakpoint at the current pc does not stop it; a
        watched access does, before it happens)."""
        self.resume()
        machine = self.machine
        result = machine.run(1)
        self._reached()
        if result.reason is HaltReason.LIMIT:
            return Stop()
        return self._stop(result)

    def _stop(self, result: RunResult) -> Stop:
        machine = self.machine
        if result.reason is HaltReason.EXITED:
            return Stop(exit_code=int(result.exit_code or 0))
        if result.reason is HaltReason.FAULT:
            cause = result.cause or 0
            return Stop(SIGILL if cause == 2 else SIGSEGV)
        if result.reason is HaltReason.DEBUG and machine.debug_hit is not None:
            kind, address = machine.debug_hit
            if kind == "break":
                hardware = address in self.hardware_breakpoints
                return Stop(reason="hwbreak" if hardware else "swbreak")
            return Stop(reason=kind, value=address)
        return Stop(SIGINT)

    # -- checkpoints -----------------------------------------------------------------------
    def _reached(self) -> None:
        instret = self.machine.instret
        if instret > self._frontier:
            self._frontier = instret
        if instret % self.interval == 0 and self._checkpoint_at(instret) is None:
            self._checkpoint()

    def _checkpoint(self) -> None:
        machine = self.machine
        base = self._checkpoints[-1] if self._checkpoints else None
        state = machine.capture_state(base)
        index = bisect.bisect_right(self._instrets, state.instret)
        self._checkpoints.insert(index, state)
        self._instrets.insert(index, state.instret)

    def _checkpoint_at(self, instret: int) -> MachineState | None:
        index = bisect.bisect_left(self._instrets, instret)
        if index < len(self._instrets) and self._instrets[index] == instret:
            return self._checkpoints[index]
        return None

    def _state_changed(self) -> None:
        """The debugger changed the state: the recorded future no longer holds."""
        instret = self.machine.instret
        keep = bisect.bisect_left(self._instrets, instret)
        del self._checkpoints[keep:], self._instrets[keep:]
        self._frontier = instret
        self._checkpoint()

    @property
    def history_start(self) -> int:
        return self._checkpoints[0].instret

    @property
    def checkpoints(self) -> int:
        return len(self._checkpoints)

    def _console(self, data: bytes) -> None:
        if self.machine.instret >= self._frontier:
            self.console(data)

    # -- reverse execution -----------------------------------------------------------------
    def _go_to(self, instret: int) -> list[tuple[int, tuple[str, int]]]:
        """Restore the latest snapshot at or before ``instret`` and re-execute up to it;
        returns the breakpoint and watchpoint hits on the way (instret, hit)."""
        machine = self.machine
        index = bisect.bisect_right(self._instrets, instret) - 1
        state = self._checkpoints[max(index, 0)]
        machine.restore(state, keep_code=True)
        hits: list[tuple[int, tuple[str, int]]] = []
        machine.debug_skip = machine.watch_skip = None
        while machine.instret < instret:
            before = machine.instret
            result = machine.run(instret - machine.instret)
            self.replays += machine.instret - before
            if result.reason is HaltReason.DEBUG and machine.debug_hit is not None:
                hits.append((machine.instret, machine.debug_hit))
                machine.debug_skip = machine.watch_skip = (machine.hart.pc, machine.instret)
            elif result.reason is not HaltReason.LIMIT:
                break
        return hits

    def reverse_step(self) -> Stop:
        """Go back one instruction."""
        instret = self.machine.instret
        if instret <= self.history_start:
            return Stop(reason="replaylog", value="begin")
        self._go_to(instret - 1)
        return Stop()

    def reverse_continue(self) -> Stop:
        """Go back to the latest breakpoint or watchpoint hit before now (or to the start of
        the recorded history). Segments between snapshots are searched latest first."""
        now = self.machine.instret
        starts = self._instrets[:bisect.bisect_left(self._instrets, now)]
        ends = [*starts[1:], now]
        for start, end in reversed(list(zip(starts, ends, strict=True))):
            self._go_to(start)
            hits = self._scan(end, now)
            if hits:
                at, hit = hits[-1]
                self._go_to(at)
                kind, address = hit
                if kind == "break":
                    hardware = address in self.hardware_breakpoints
                    return Stop(reason="hwbreak" if hardware else "swbreak")
                return Stop(reason=kind, value=address)
        self._go_to(self.history_start)
        return Stop(reason="replaylog", value="begin")

    def _scan(self, end: int, now: int) -> list[tuple[int, tuple[str, int]]]:
        """Run from here to ``end`` collecting hits strictly before ``now``."""
        machine = self.machine
        hits: list[tuple[int, tuple[str, int]]] = []
        if machine.hart.pc in machine.breakpoints and machine.instret < now:
            hits.append((machine.instret, ("break", machine.hart.pc)))
        machine.debug_skip = machine.watch_skip = (machine.hart.pc, machine.instret)
        while machine.instret < end:
            before = machine.instret
            result = machine.run(end - machine.instret)
            self.replays += machine.instret - before
            if result.reason is HaltReason.DEBUG and machine.debug_hit is not None:
                # going backwards, a watched access is met right after it happened: gdb
                # then steps back over it (RISC-V watchpoints are "non-steppable") and
                # stops at the accessing instruction with the old value in place
                at = machine.instret + (machine.debug_hit[0] != "break")
                if at < now:
                    hits.append((at, machine.debug_hit))
                machine.debug_skip = machine.watch_skip = (machine.hart.pc, machine.instret)
            elif result.reason is not HaltReason.LIMIT:
                break
        return hits
