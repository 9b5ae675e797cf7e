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

from vmcore.application import ControlPlane
from vmcore.domain import (
    CommandContext,
    PauseReason,
    RuntimePublisher,
    VmConfig,
    discard_runtime_event,
)
from vmcore.errors import VmcoreError
from vmcore_domain_services.execution import (
    Machine,
    RunResult,
    StopReason,
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
                 context: CommandContext | None = None) -> None:
        self.control_plane = control_plane
        self.vm_id = vm_id
        self.machine = machine
        self.context = context or CommandContext()
        self._changed = threading.Condition()
        self._want_pause = False
        self._want_stop = False
        self._paused = False

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

    def wait_paused(self, timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._paused, timeout)

    def wait_running(self, timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._paused, timeout)

    # -- the run loop ---------------------------------------------------------------------

    def run(self, max_instructions: int | None = None, *,
            startup_time_ms: int | None = None) -> RunSummary:
        cp, ctx = self.control_plane, self.context
        cp.start_vm(self.vm_id, startup_time_ms=startup_time_ms, context=ctx)
        retired = 0
        while True:
            budget = None if max_instructions is None else max_instructions - retired
            result = self.machine.run(budget)
            retired += result.instructions
            if result.reason is not StopReason.PAUSED:
                return self._finish(result, retired)
            if self._hold():
                cp.stop_vm(self.vm_id, force=True, context=ctx)
                return RunSummary(Outcome.STOPPED, retired, None, "stopped on request")

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
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._want_stop or not self._want_pause)
            stop = self._want_stop
        if not stop:
            cp.resume_vm(self.vm_id, context=ctx)
        with self._changed:
            self._paused = False
            self._changed.notify_all()
        return stop

    def _finish(self, result: RunResult, retired: int) -> RunSummary:
        cp, ctx = self.control_plane, self.context
        if result.reason is StopReason.EXITED:
            code = int(result.exit_code or 0)
            cp.record_guest_exit(self.vm_id, code, context=ctx)
            return RunSummary(Outcome.EXITED, retired, code, f"guest exited with code {code}")
        if result.reason is StopReason.FAULT:
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
