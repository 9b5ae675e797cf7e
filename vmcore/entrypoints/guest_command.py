"""``vmcore run``: boot a guest as a new VM, or resume a VM from one of its machine
snapshots; signals pause (and optionally snapshot), resume and stop it."""

from __future__ import annotations

import argparse
import signal
import sys
import uuid
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from vmcore.domain import VirtualMachine
from vmcore.domain.topics import VM_EVENTS
from vmcore.entrypoints.arguments import positive_int

if TYPE_CHECKING:  # the runner, translator and ELF loader load only when a guest runs
    from vmcore.application.control_plane import ControlPlane
    from vmcore.application.guest_runner import GuestRunner
    from vmcore.entrypoints.cli_session import CliSession

_VM = VirtualMachine
_ANNOUNCED = {_VM.Started.bus_topic: "running (SIGUSR1 pauses, SIGUSR2 resumes, SIGINT stops)",
              _VM.SnapshotRestored.bus_topic: "running from a snapshot (SIGUSR1 pauses, SIGUSR2"
                                              " resumes, SIGINT stops)",
              _VM.Paused.bus_topic: "paused", _VM.Resumed.bus_topic: "resumed",
              _VM.SnapshotCreated.bus_topic: "snapshot taken"}
_EPILOG = """\
examples:
  vmcore run examples/guests/build/hello.elf --name hello
  vmcore run guest.elf --snapshot-on-pause &  kill -USR1 $!   # pause and snapshot
  vmcore run --from-snapshot hello pause-1 --max-instructions 100000

Machine snapshots live with the store (see `vmcore info`).
"""


def add_run_command(commands: Any) -> None:
    run = commands.add_parser(
        "run", help="run a RISC-V guest ELF as a new VM, or resume one from a machine snapshot",
        description="Run a RISC-V guest ELF as a new VM (console on stdout), or resume a VM"
        " from a machine snapshot. SIGUSR1 pauses, SIGUSR2 resumes, SIGINT/SIGTERM stop.",
        epilog=_EPILOG)
    run.add_argument("guest", nargs="?", help="a statically linked RV64 ELF for the virt-like"
                     " machine")
    run.add_argument("--from-snapshot", nargs=2, metavar=("VM", "SNAPSHOT"),
                     help="resume a created/stopped VM from one of its machine snapshots")
    run.add_argument("--name", metavar="NAME",
                     help="VM name (default: the file name and a short id)")
    run.add_argument("--memory", default="64M", metavar="SIZE", help="guest RAM at 0x80000000")
    run.add_argument("--max-instructions", type=positive_int, metavar="N",
                     help="stop the guest after this many (default: no limit)")
    run.add_argument("--interpret", action="store_true",
                     help="never translate blocks (interpreter tier only)")
    run.add_argument("--snapshot-on-pause", action="store_true",
                     help="take a machine snapshot (pause-1, pause-2 ...) at every pause")
    run.add_argument("--gdb", metavar="HOST:PORT",
                     help="start halted at the ELF entry and wait for gdb (remote protocol,"
                     " with reverse execution) on HOST:PORT")
    run.add_argument("--gdb-snapshot-interval", type=positive_int, default=10_000,
                     metavar="N", help="with --gdb: snapshot every N instructions for reverse"
                     " execution (a reverse step re-executes at most N)")
    run.set_defaults(run=run_guest_command)


def run_guest_command(args: argparse.Namespace, session: CliSession) -> int:
    """``vmcore run``: the guest's exit code, or 1 when it crashed or was stopped; with
    ``--json`` a summary object on stdout after the guest's console output."""
    from vmcore.application.errors import VmcoreError

    if bool(args.guest) == bool(args.from_snapshot):
        raise VmcoreError("vmcore run needs a GUEST file or --from-snapshot VM SNAPSHOT")
    if args.guest and not Path(args.guest).is_file():
        raise VmcoreError(f"cannot load guest {args.guest!r}: no such file")
    container = session.container()
    directory = container.store_spec().machine_snapshot_dir(session.environ)
    control_plane = session.control_plane()
    bus = container.publisher().connect()  # the bus, with every enabled service started
    status, summary = run_guest(control_plane, bus, args, directory,
                                services=container.services())
    if session.json:
        session.emit(summary, "")
    return status


def run_guest(cp: ControlPlane, bus: Any, args: argparse.Namespace,
              snapshot_dir: Path, *, services: Any) -> tuple[int, dict[str, Any]]:
    """Returns the guest's exit code (or 1 when it crashed or was stopped) and a summary.
    Lifecycle changes are announced on stderr as they are committed. The vCPU's MMU is
    attached to the registered ``mmu`` service (which flushes its TLB on the VM's stop,
    restore ...)."""
    from vmcore.application.errors import VmcoreError
    from vmcore.application.guest_runner import Outcome, boot, resume_from_snapshot
    from vmcore.application.machine_snapshots import MachineSnapshots
    from vmcore.domain import CommandContext, parse_memory_size

    if services is None or "mmu" not in services:
        raise VmcoreError("vmcore run needs the 'mmu' domain service: do not disable it")
    snapshots = MachineSnapshots(snapshot_dir)
    context = CommandContext()
    listener = _gdb_listener(args) if args.gdb else None  # before any VM exists
    if args.from_snapshot:
        vm_ref, snapshot_id = args.from_snapshot
        runner = resume_from_snapshot(cp, vm_ref, snapshot_id, snapshots,
                                      translate=not args.interpret, context=context,
                                      publisher=bus.publish)
        name, startup_ms = cp.get_vm(runner.vm_id).name, None
    else:
        name = args.name or f"{_label(args.guest)}-{uuid.uuid4().hex[:6]}"
        runner, startup_ms = boot(cp, name, args.guest, parse_memory_size(args.memory),
                                  translate=not args.interpret, context=context,
                                  publisher=bus.publish)
        runner.snapshots = snapshots

    def announce(event: Any) -> None:
        if event.originator_id == runner.vm_id and event.bus_topic in _ANNOUNCED:
            detail = f" {event.snapshot_id}" if isinstance(event, _VM.SnapshotCreated) else ""
            text = _ANNOUNCED[event.bus_topic]
            if args.gdb and isinstance(event, _VM.Started):
                text = "running under the debugger"
            sys.stderr.write(f"vmcore: VM {name} {text}{detail}\n")
            sys.stderr.flush()

    bus.subscribe(VM_EVENTS, announce, name="vmcore-run:announce")
    mmu = runner.machine.port.mmu
    services["mmu"].attach(mmu)
    try:
        if listener is not None:
            summary = _debug(runner, listener, args, startup_ms)
        else:
            previous = _install_signals(runner, snapshot_on_pause=args.snapshot_on_pause)
            try:
                summary = runner.run(args.max_instructions, startup_time_ms=startup_ms,
                                     start=not args.from_snapshot)
            finally:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
    finally:
        services["mmu"].detach(mmu)
    sys.stdout.flush()
    sys.stderr.write(f"vmcore: VM {name} ({runner.vm_id}): {summary.detail};"
                     f" {summary.instructions} instructions\n")
    status = int(summary.exit_code or 0) if summary.outcome is Outcome.EXITED else 1
    return status, {"vm": name, "id": str(runner.vm_id), "outcome": summary.outcome.value,
                    "exit_code": summary.exit_code, "detail": summary.detail,
                    "instructions": summary.instructions}


def _gdb_listener(args: argparse.Namespace) -> Any:
    """The listening socket for ``--gdb`` (checked and bound before the VM is created)."""
    import os

    from vmcore.application.errors import VmcoreError
    from vmcore.entrypoints.gdb.server import listen, parse_address

    if args.from_snapshot:
        raise VmcoreError("--gdb boots a GUEST file; it cannot resume --from-snapshot")
    try:
        return listen(*parse_address(args.gdb))
    except ValueError as error:
        raise VmcoreError(str(error)) from None
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise VmcoreError(f"cannot serve gdb on {args.gdb}: {reason}") from None


def _debug(runner: GuestRunner, listener: Any, args: argparse.Namespace,
           startup_ms: int | None) -> Any:
    from vmcore.application.errors import VmcoreError
    from vmcore.entrypoints.gdb.server import serve

    def announce(line: str) -> None:
        sys.stderr.write(f"vmcore: {line}\n")
        sys.stderr.flush()

    try:
        return serve(runner, listener, interval=args.gdb_snapshot_interval,
                     announce=announce, startup_time_ms=startup_ms,
                     max_instructions=args.max_instructions)
    except KeyboardInterrupt:
        raise VmcoreError("interrupted while serving gdb") from None


def _label(path: str) -> str:
    stem = "".join(c if c.isalnum() else "-" for c in Path(path).stem.lower()).strip("-")
    return (stem or "guest")[:40]


def _install_signals(runner: GuestRunner, *, snapshot_on_pause: bool) -> dict[int, Any]:
    def pause(_signum: int, _frame: FrameType | None) -> None:
        runner.pause()
        if snapshot_on_pause:
            runner.snapshot(f"pause-{runner.pauses + 1}")

    def resume(_signum: int, _frame: FrameType | None) -> None:
        runner.resume()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        runner.stop()

    handlers = {signal.SIGUSR1: pause, signal.SIGUSR2: resume, signal.SIGINT: stop,
                signal.SIGTERM: stop}
    return {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
