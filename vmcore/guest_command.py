"""``vmcore run GUEST``: boot a guest as a new VM, with signals for pause/resume/stop."""

from __future__ import annotations

import argparse
import signal
import sys
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

from vmcore.application import ControlPlane
from vmcore.domain import CommandContext, parse_memory_size
from vmcore.run import GuestRunner, Outcome, boot

_ANNOUNCED = {"vm.started": "running (SIGUSR1 pauses, SIGUSR2 resumes, SIGINT stops)",
              "vm.paused": "paused", "vm.resumed": "resumed"}


def run_guest(cp: ControlPlane, bus: Any, args: argparse.Namespace) -> int:
    """Returns the guest's exit code, or 1 when it crashed or was stopped. Lifecycle
    changes are announced on stderr as they are committed."""
    name = args.name or f"{_label(args.guest)}-{uuid.uuid4().hex[:6]}"
    runner, startup_ms = boot(cp, name, args.guest, parse_memory_size(args.memory),
                              translate=not args.interpret, context=CommandContext(),
                              publisher=bus.publish)

    def announce(event: Any) -> None:
        if event.originator_id == runner.vm_id and event.bus_topic in _ANNOUNCED:
            sys.stderr.write(f"vmcore: VM {name} {_ANNOUNCED[event.bus_topic]}\n")
            sys.stderr.flush()

    bus.subscribe("vm.*", announce, name="vmcore-run:announce")
    for topic, handler in runner.machine.bus_handlers().items():
        bus.subscribe(topic, handler, name=f"vmcore-run:mmu:{topic}")
    previous = _install_signals(runner)
    try:
        summary = runner.run(args.max_instructions, startup_time_ms=startup_ms)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    sys.stdout.flush()
    sys.stderr.write(f"vmcore: VM {name} ({runner.vm_id}): {summary.detail};"
                     f" {summary.instructions} instructions\n")
    if summary.outcome is Outcome.EXITED:
        return int(summary.exit_code or 0)
    return 1


def _label(path: str) -> str:
    stem = "".join(c if c.isalnum() else "-" for c in Path(path).stem.lower()).strip("-")
    return (stem or "guest")[:40]


def _install_signals(runner: GuestRunner) -> dict[int, Any]:
    def pause(_signum: int, _frame: FrameType | None) -> None:
        runner.pause()

    def resume(_signum: int, _frame: FrameType | None) -> None:
        runner.resume()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        runner.stop()

    handlers = {signal.SIGUSR1: pause, signal.SIGUSR2: resume, signal.SIGINT: stop,
                signal.SIGTERM: stop}
    return {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
