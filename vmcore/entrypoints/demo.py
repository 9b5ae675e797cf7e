"""The main job (``vmcore demo``, ``make run``): a short tour of the control plane.

Three VMs go through their lifecycles (including a command the lifecycle refuses); the
timeline of the run is read back from the store, then every VM is replayed from the store
through a second, fresh ControlPlane and compared with its live state.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO
from uuid import UUID, uuid4

if TYPE_CHECKING:
    from vmcore.application.control_plane import ControlPlane
    from vmcore.domain import CommandContext
    from vmcore.entrypoints.cli_session import CliSession

_EPILOG = """\
examples:
  vmcore demo
  vmcore --store memory demo               # leave nothing behind
  vmcore --store sqlite:/tmp/demo.sqlite demo
"""


def add_demo_command(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help="the main job: a tour of the lifecycle, then a replay check",
        description=" ".join(__doc__.split("\n\n")[1].split()), epilog=_EPILOG)
    demo.set_defaults(run=run_demo_command)


def run_demo_command(args: argparse.Namespace, session: CliSession) -> int:
    del args
    store = session.container().store_spec().resolved(session.environ).redacted()
    live = session.control_plane()
    # A memory store lives in its ControlPlane: the replay goes through that one.
    reopen = (lambda: live) if store == "memory" else session.open_control_plane
    report: dict[str, Any] = {}
    ok = run_demo(live, reopen, io.StringIO() if session.json else session.out, store=store,
                  report=report)
    if session.json:
        session.emit(report, "")
    return 0 if ok else 1


class _Refusal:
    """A command the lifecycle refused: shown in the timeline right after the VM's event
    at ``version``, where it happened."""

    def __init__(self, vm_id: UUID, version: int, label: str, command: str,
                 reason: str) -> None:
        self.vm_id, self.version = vm_id, version
        self.label, self.command, self.reason = label, command, reason


def run_demo(control_plane: ControlPlane, reopen: Callable[[], ControlPlane],
             out: TextIO, *, store: str = "the configured store",
             report: dict[str, Any] | None = None) -> bool:
    """Run the tour on ``control_plane``; ``reopen`` opens the same store afresh. Returns
    whether every replay check passed; fills ``report`` (what ``--json`` prints)."""
    from vmcore.domain import CommandContext, Trn

    run = uuid4().hex[:6]
    ctx = CommandContext(actor=Trn.of("user", "demo"), tags=("demo", run))
    out.write(f"vmcore demo, run {run}, on {store}.\n"
              "Three VMs go through their lifecycles, each step an event in the store: web"
              " is\nstarted, grown while running, snapshotted and shut down; db refuses a"
              " delete while\nrunning and migrates; batch crashes and is deleted. Then the"
              " run's timeline is read\nback from the store, and every VM is replayed from"
              " it and compared with its live state.\n\n")
    ids, refusals = _tour(control_plane, ctx, run)
    _print_timeline(control_plane, ctx.correlation_id, ids, refusals, out)
    ok = _check_replays(control_plane, reopen, list(ids), out)
    _print_next_steps(f"web-{run}", ctx.correlation_id, store, out)
    if report is not None:
        from vmcore.application.queries import EventQuery
        from vmcore.entrypoints.presenters import event_record, vm_summary

        events = control_plane.query_events(EventQuery(correlation_id=ctx.correlation_id))
        report.update({
            "run": run, "store": store, "correlation_id": ctx.correlation_id,
            "events": [event_record(event) for event in events],
            "refused": [{"vm": r.label, "command": r.command, "after_version": r.version,
                         "reason": r.reason} for r in refusals],
            "vms": [vm_summary(control_plane.get_vm(vm_id)) for vm_id in ids],
            "replay_check_passed": ok})
    return ok


def _tour(cp: ControlPlane, ctx: CommandContext, run: str
          ) -> tuple[dict[UUID, str], list[_Refusal]]:
    from vmcore.domain import PauseReason, VmConfig

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
    refusals = [_try(cp, db, "db", "delete", lambda: cp.delete_vm(db, context=ctx))]
    cp.migrate_vm(db, "trn:host:node-2", context=ctx)
    cp.execute(db, lambda vm: vm.complete_migration(context=ctx))

    batch = cp.create_vm(f"batch-{run}", VmConfig(vcpus=1, memory="256M"), context=ctx)
    cp.start_vm(batch, context=ctx)
    cp.crash_vm(batch, "watchdog: guest stopped responding", context=ctx)
    cp.delete_vm(batch, context=ctx)
    return {web: "web", db: "db", batch: "batch"}, refusals


def _try(cp: ControlPlane, vm_id: UUID, label: str, command: str,
         run: Callable[[], object]) -> _Refusal:
    from vmcore.domain import DomainError

    try:
        run()
    except DomainError as error:
        return _Refusal(vm_id, cp.get_vm(vm_id).version, label, command,
                        str(error).split(") ")[-1])
    raise AssertionError("the lifecycle accepted a command it must refuse")


def _print_timeline(cp: ControlPlane, correlation_id: str, labels: dict[UUID, str],
                    refusals: list[_Refusal], out: TextIO) -> None:
    from vmcore.application.queries import EventQuery
    from vmcore.entrypoints.presenters import describe_payload, event_payload, table

    events = cp.query_events(EventQuery(correlation_id=correlation_id))
    rows: list[dict[str, Any]] = []
    for event in events:
        rows.append({"time": f"{event.timestamp:%H:%M:%S.%f}"[:-3],
                     "vm": labels.get(event.originator_id, str(event.originator_id)[:8]),
                     "version": f"v{event.originator_version}", "event": event.bus_topic,
                     "details": describe_payload(event_payload(event))})
        rows.extend(_refusal_row(refusal) for refusal in refusals
                    if (refusal.vm_id, refusal.version) == (event.originator_id,
                                                            event.originator_version))
    out.write(f"Timeline: {len(events)} events read back from the store by the run's"
              f" correlation id,\nwith the refused command where it happened (it recorded"
              " nothing):\n\n")
    out.write(table(rows, ["time", "vm", "version", "event", "details"]) + "\n\n")


def _refusal_row(refusal: _Refusal) -> dict[str, Any]:
    return {"time": None, "vm": refusal.label, "version": None,
            "event": f"({refusal.command} refused)", "details": refusal.reason}


def _check_replays(live: ControlPlane, reopen: Callable[[], ControlPlane], ids: list[UUID],
                   out: TextIO) -> bool:
    from vmcore.entrypoints.presenters import table, vm_summary

    out.write("The VMs now:\n\n" + table(
        [vm_summary(live.get_vm(i)) for i in ids],
        ["name", "state", "reason", "version", "vcpus", "memory", "arch"]) + "\n\n")
    fresh = reopen()
    ok = 0
    try:
        for vm_id in ids:
            current = live.get_vm(vm_id)
            if current == fresh.replay_vm(vm_id) == fresh.get_vm(vm_id):
                ok += 1
            else:
                out.write(f"MISMATCH: VM {vm_id} replays differently from its live state\n")
    finally:
        if fresh is not live:
            fresh.close()
    through = "a freshly opened" if fresh is not live else "the same (memory store)"
    out.write(f"Replay check: {ok}/{len(ids)} VMs replayed from the store, through {through}"
              " ControlPlane,\nequal their live state"
              f"{' (full replay and from snapshots)' if ok == len(ids) else ''}.\n\n")
    return ok == len(ids)


def _print_next_steps(web: str, correlation_id: str, store: str, out: TextIO) -> None:
    from vmcore.entrypoints.presenters import table

    if store == "memory":
        out.write("The memory store is gone with this process: give a durable --store (or"
                  " none, for\n"
                  "the default) to look around afterwards.\n")
        return
    steps = [("vmcore vm list --all", "every VM in the store, deleted ones too"),
             (f"vmcore vm history {web}", "one VM's events"),
             (f"vmcore vm show {web} --at-version 5", "the VM as it was at version 5"),
             (f"vmcore events --correlation {correlation_id}", "this run's events"),
             ("vmcore run examples/guests/build/hello.elf", "boot a real RISC-V guest"
              " (after make guests)"),
             ("vmcore info", "where the data lives")]
    lines = table([{"command": c, "what": w} for c, w in steps], ["command", "what"])
    indented = "\n".join("  " + line for line in lines.splitlines()[1:])
    out.write(f"Try next (on {store}):\n{indented}\n")
