"""The main job (``vmcore demo``, ``make run``): a short tour of the control plane.

Creates three VMs, drives them through their lifecycles (including a command the lifecycle
refuses), prints the timeline read back from the store, then replays every VM from the
store, through a second, fresh ControlPlane, and checks the replay equals the live state.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO
from uuid import UUID, uuid4

from vmcore.application.control_plane import ControlPlane
from vmcore.application.queries import EventQuery
from vmcore.domain import (
    CommandContext,
    DomainError,
    PauseReason,
    Trn,
    VmConfig,
)
from vmcore.entrypoints.presenters import describe_payload, event_payload, table, vm_summary

if TYPE_CHECKING:
    from vmcore.entrypoints.cli_session import CliSession


def add_demo_command(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help="the main job: a tour of the lifecycle, then a replay check",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        epilog="examples:\n  vmcore demo\n  vmcore --store memory demo\n")
    demo.set_defaults(run=run_demo_command)


def run_demo_command(args: argparse.Namespace, session: CliSession) -> int:
    del args
    ok = run_demo(session.control_plane(), session.open_control_plane, session.out)
    return 0 if ok else 1


def run_demo(control_plane: ControlPlane, reopen: Callable[[], ControlPlane],
             out: TextIO) -> bool:
    """Run the tour on ``control_plane``; ``reopen`` opens the same store afresh. Returns
    whether every replay check passed."""
    run = uuid4().hex[:6]
    ctx = CommandContext(actor=Trn.of("user", "demo"), tags=("demo", run))
    cp = control_plane
    out.write(f"vmcore demo (run {run}): correlation id {ctx.correlation_id}\n\n")

    web = cp.create_vm(f"web-{run}", VmConfig(vcpus=2, memory="512M", max_vcpus=4,
                                             flags=frozenset({"jit"})),
                       created_by="trn:user:demo", tags=["frontend"], context=ctx)
    cp.execute(web, lambda vm: vm.allocate_memory("ram0", 0, 256 << 20, context=ctx))
    cp.execute(web, lambda vm: vm.add_device("net0", "virtio-net", {"mac": "52:54:00:00:00:01"},
                                             context=ctx))
    cp.start_vm(web, startup_time_ms=42, context=ctx)
    cp.update_vm_config(web, VmConfig(vcpus=4, memory="512M", max_vcpus=4,
                                      flags=frozenset({"jit"})), context=ctx)
    cp.pause_vm(web, PauseReason.SNAPSHOT, context=ctx)
    cp.snapshot_vm(web, f"snap-{run}", context=ctx)
    cp.resume_vm(web, context=ctx)
    cp.shutdown_vm(web, context=ctx)
    cp.record_guest_exit(web, 0, context=ctx)

    db = cp.create_vm(f"db-{run}", VmConfig(vcpus=4, memory="2G", arch="x86_64"),
                      context=ctx)
    cp.start_vm(db, context=ctx)
    refused = _try(lambda: cp.delete_vm(db, context=ctx))
    cp.migrate_vm(db, "trn:host:node-2", context=ctx)
    cp.execute(db, lambda vm: vm.complete_migration(context=ctx))

    batch = cp.create_vm(f"batch-{run}", VmConfig(vcpus=1, memory="256M"), context=ctx)
    cp.start_vm(batch, context=ctx)
    cp.crash_vm(batch, "watchdog: guest stopped responding", context=ctx)
    cp.delete_vm(batch, context=ctx)

    out.write(f"refused as expected: {refused}\n\n")
    _print_timeline(cp, ctx.correlation_id, {web: "web", db: "db", batch: "batch"}, out)
    ids = [web, db, batch]
    out.write("\n" + table([vm_summary(cp.get_vm(i)) for i in ids],
                           ["name", "state", "reason", "version", "vcpus", "memory", "arch"]))
    fresh = reopen()
    try:
        return _check_replays(cp, fresh, ids, out)
    finally:
        fresh.close()


def _try(command: Callable[[], object]) -> str:
    try:
        command()
    except DomainError as error:
        return str(error)
    raise AssertionError("the lifecycle accepted a command it must refuse")


def _print_timeline(cp: ControlPlane, correlation_id: str, labels: dict[UUID, str],
                    out: TextIO) -> None:
    events = cp.query_events(EventQuery(correlation_id=correlation_id))
    out.write(f"timeline ({len(events)} events, read back from the store):\n")
    for event in events:
        label = labels.get(event.originator_id, str(event.originator_id)[:8])
        out.write(f"  {event.timestamp:%H:%M:%S.%f}  {label:<6} v{event.originator_version:<3}"
                  f" {event.bus_topic:<24} {describe_payload(event_payload(event))}\n")


def _check_replays(live: ControlPlane, fresh: ControlPlane, ids: list[UUID],
                   out: TextIO) -> bool:
    ok = 0
    for vm_id in ids:
        current = live.get_vm(vm_id)
        replayed = fresh.replay_vm(vm_id)
        from_snapshot = fresh.get_vm(vm_id)
        if current == replayed == from_snapshot:
            ok += 1
        else:
            out.write(f"MISMATCH: VM {vm_id} replays differently from its live state\n")
    out.write(f"\n\nreplay check: {ok}/{len(ids)} VMs replayed from the store equal their"
              " live state\n")
    return ok == len(ids)
