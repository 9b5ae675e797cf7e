"""Running a guest as a VM: the machine executes, the ControlPlane records its lifecycle.

A :class:`GuestRunner` owns one machine and one VM. It records ``Started`` when the guest
begins, ``Paused`` / ``Resumed`` when a pause is honoured and lifted, ``Stopped`` with the
guest's exit code when the guest finishes (or a forced ``Stopped`` when asked to stop or
when the instruction budget runs out), and ``Crashed`` when a trap is unhandled. Every
event is written by the thread that runs :meth:`GuestRunner.run`; other threads (and
signal handlers) only ask, through :meth:`pause`, :meth:`resume` and :meth:`stop`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Any
from uuid import UUID

from attrs import frozen
from elftools.common.exceptions import ELFError

from vmcore.application.control_plane import ControlPlane
from vmcore.application.errors import VmcoreError
from vmcore.application.machine_snapshots import MachineSnapshots
from vmcore.domain import (
    CommandContext,
    PauseReason,
    RuntimePublisher,
    VmConfig,
    discard_runtime_event,
)
from vmcore_domain_services.execution import (
    HaltReason,
    Machine,
    MachineState,
    RunResult,
    TieringPolicy,
)


class GuestImageError(VmcoreError):
    """The guest image could not be read or is not a RISC-V ELF we can run."""


class Outcome(Enum):
    EXITED = "exited"
    CRASHED = "crashed"
    STOPPED = "stopped"
    LIMIT = "limit"


@frozen
class RunSummary:
    outcome: Outcome
    instructions: int
    exit_code: int | None
    detail: str


class GuestRunner:
    """Runs ``machine`` as the VM ``vm_id`` of ``control_plane``."""

    def __init__(self, control_plane: ControlPlane, vm_id: UUID, machine: Machine, *,
                 context: CommandContext | None = None,
                 snapshots: MachineSnapshots | None = None,
                 last_snapshot: tuple[str, MachineState] | None = None) -> None:
        """``last_snapshot`` (id, state) is the base of this run's next diff snapshot."""
        self.control_plane = control_plane
        self.vm_id = vm_id
        self.machine = machine
        self.context = context or CommandContext()
        self.snapshots = snapshots
        self._changed = threading.Condition()
        self._want_pause = False
        self._want_stop = False
        self._paused = False
        self.pauses = 0
        """How many pauses have been honoured (and recorded) so far."""
        self._snapshot_requests: list[str] = []
        self._last_snapshot = last_snapshot

    # -- requests from other threads ----------------------------------------------------

    def pause(self) -> None:
        """Pause at the next block boundary; :meth:`wait_paused` tells when it happened."""
        with self._changed:
            self._want_pause = True
        self.machine.request_pause()

    def resume(self) -> None:
        with self._changed:
            self._want_pause = False
            self._changed.notify_all()

    def stop(self) -> None:
        """Stop the guest (recorded as a forced stop) at the next block boundary."""
        with self._changed:
            self._want_stop = True
            self._changed.notify_all()
        self.machine.request_pause()

    def snapshot(self, snapshot_id: str) -> None:
        """Snapshot the paused guest (recorded as ``SnapshotCreated``; a diff against the
        previous snapshot of this run, if any). Needs a snapshot store; honoured while
        paused, in request order."""
        if self.snapshots is None:
            raise VmcoreError("this runner has no machine snapshot store")
        with self._changed:
            self._snapshot_requests.append(snapshot_id)
            self._changed.notify_all()

    def wait_snapshots_taken(self, timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._snapshot_requests, timeout)

    def wait_paused(self, timeout: float | None = None, *, count: int = 1) -> bool:
        """Wait until the guest is paused for at least the ``count``-th time."""
        with self._changed:
            return self._changed.wait_for(lambda: self._paused and self.pauses >= count,
                                          timeout)

    def wait_running(self, timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._paused, timeout)

    # -- the run loop ---------------------------------------------------------------------

    def run(self, max_instructions: int | None = None, *,
            startup_time_ms: int | None = None, start: bool = True) -> RunSummary:
        """Run to the end; ``start=False`` when the VM is already running (restored)."""
        cp, ctx = self.control_plane, self.context
        if start:
            cp.start_vm(self.vm_id, startup_time_ms=startup_time_ms, context=ctx)
        retired = 0
        while True:
            budget = None if max_instructions is None else max_instructions - retired
            result = self.machine.run(budget)
            retired += result.instructions
            if result.reason is not HaltReason.PAUSED:
                return self._finish(result, retired)
            if self._hold():
                cp.stop_vm(self.vm_id, force=True, context=ctx)
                return RunSummary(Outcome.STOPPED, retired, None, "stopped on request")

    # -- a run driven by someone else (a debugger) ------------------------------------------

    def begin(self, startup_time_ms: int | None = None) -> None:
        """Record the start of a run whose steps another driver (the GDB stub) takes."""
        self.control_plane.start_vm(self.vm_id, startup_time_ms=startup_time_ms,
                                    context=self.context)

    def end(self, result: RunResult, retired: int) -> RunSummary:
        """Record how such a run ended (exit, crash, or a forced stop for anything else)."""
        return self._finish(result, retired)

    def _hold(self) -> bool:
        """Honour a pause: record it, wait for resume or stop. True when asked to stop."""
        cp, ctx = self.control_plane, self.context
        with self._changed:
            if self._want_stop:
                return True
            if not self._want_pause:
                return False  # a pause lifted before the machine got to it
        cp.pause_vm(self.vm_id, PauseReason.USER, context=ctx)
        with self._changed:
            self._paused = True
            self.pauses += 1
            self._changed.notify_all()
            while True:
                self._changed.wait_for(lambda: self._want_stop or not self._want_pause
                                       or bool(self._snapshot_requests))
                if not self._snapshot_requests:
                    break
                snapshot_id = self._snapshot_requests[0]
                self._changed.release()
                try:
                    self._take_snapshot(snapshot_id)
                finally:
                    self._changed.acquire()
                self._snapshot_requests.pop(0)
                self._changed.notify_all()
            stop = self._want_stop
        if not stop:
            cp.resume_vm(self.vm_id, context=ctx)
        with self._changed:
            self._paused = False
            self._changed.notify_all()
        return stop

    def _take_snapshot(self, snapshot_id: str) -> None:
        assert self.snapshots is not None
        base = self._last_snapshot
        state = self.machine.capture_state(base[1] if base else None)
        self.snapshots.save(self.vm_id, snapshot_id, state, base[0] if base else None)
        self.control_plane.snapshot_vm(self.vm_id, snapshot_id, kind=state.kind,
                                       base_snapshot_id=base[0] if base else None,
                                       context=self.context)
        self._last_snapshot = (snapshot_id, state)

    def _finish(self, result: RunResult, retired: int) -> RunSummary:
        cp, ctx = self.control_plane, self.context
        if result.reason is HaltReason.EXITED:
            code = int(result.exit_code or 0)
            cp.record_guest_exit(self.vm_id, code, context=ctx)
            return RunSummary(Outcome.EXITED, retired, code, f"guest exited with code {code}")
        if result.reason is HaltReason.FAULT:
            detail = (f"unhandled trap: cause {result.cause:#x} at pc {result.pc:#x}"
                      f" (tval {result.tval or 0:#x})")
            cp.crash_vm(self.vm_id, detail, context=ctx)
            return RunSummary(Outcome.CRASHED, retired, None, detail)
        cp.stop_vm(self.vm_id, force=True, context=ctx)
        return RunSummary(Outcome.LIMIT, retired, None,
                          f"instruction limit reached after {retired} instructions")


def boot(control_plane: ControlPlane, name: str, elf: str, memory: int, *,
         translate: bool = True, context: CommandContext | None = None,
         publisher: RuntimePublisher = discard_runtime_event,
         console: Callable[[bytes], None] | None = None) -> tuple[GuestRunner, int]:
    """Build the machine with ``elf`` loaded, then create its VM; returns the runner and
    the milliseconds the machine took to build (recorded as the startup time). A bad ELF
    fails here, before anything is recorded."""
    started = time.perf_counter()
    options: dict[str, Any] = {"tiering": TieringPolicy(translate=translate),
                               "publisher": publisher}
    if console is not None:
        options["console"] = console
    try:
        machine = Machine(memory, **options)
        machine.load_elf(elf)
    except (OSError, ValueError, ELFError) as error:
        raise GuestImageError(f"cannot load guest {elf!r}: {error}") from error
    startup_ms = round((time.perf_counter() - started) * 1000)
    vm_id = control_plane.create_vm(name, VmConfig(vcpus=1, memory=memory, arch="riscv64"),
                                    context=context)
    machine.attach(vm_id)
    return GuestRunner(control_plane, vm_id, machine, context=context), startup_ms


def resume_from_snapshot(control_plane: ControlPlane, vm_ref: str | UUID, snapshot_id: str,
                         snapshots: MachineSnapshots, *, translate: bool = True,
                         context: CommandContext | None = None,
                         publisher: RuntimePublisher = discard_runtime_event,
                         console: Callable[[bytes], None] | None = None) -> GuestRunner:
    """A runner for a created or stopped VM, its machine restored from one of the VM's
    snapshots; records ``SnapshotRestored`` (resumed). Continue with ``run(start=False)``."""
    vm = control_plane.get_vm(vm_ref)
    if snapshot_id not in vm.snapshots:
        raise VmcoreError(f"VM {vm.name!r} has no snapshot {snapshot_id!r}")
    options: dict[str, Any] = {"tiering": TieringPolicy(translate=translate),
                               "publisher": publisher, "vm_id": vm.id}
    if console is not None:
        options["console"] = console
    machine = Machine(vm.config.memory, **options)
    state = snapshots.load(vm.id, snapshot_id)
    machine.restore(state)
    control_plane.restore_vm(vm.id, snapshot_id, resume=True, context=context)
    return GuestRunner(control_plane, vm.id, machine, context=context, snapshots=snapshots,
                       last_snapshot=(snapshot_id, state))
