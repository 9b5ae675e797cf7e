"""``vmcore vm ...``: create, drive and inspect VMs by name or id."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vmcore.entrypoints.arguments import positive_int

if TYPE_CHECKING:
    from vmcore.application.control_plane import ControlPlane
    from vmcore.domain import VirtualMachine
    from vmcore.entrypoints.cli_session import CliSession

VM_COLUMNS = ["name", "id", "state", "reason", "version", "vcpus", "memory", "arch"]
# Lifecycle values named here so that building the parser imports nothing of the domain;
# tests/unit/test_cli_parser.py checks they equal the domain's.
PAUSE_REASONS = ("user", "io_error", "watchdog", "snapshot", "migration")
ARCHITECTURES = ("riscv64", "x86_64", "aarch64")
FLAGS = ("hugepages", "jit", "nested", "simd", "tiered")
_EPILOG = """\
examples:
  vmcore vm create --name web-1 --vcpus 2 --memory 512M --flag jit --tag frontend
  vmcore vm start web-1
  vmcore vm pause web-1 --reason snapshot && vmcore vm snapshot web-1 before-upgrade
  vmcore vm show web-1 --at-version 2
  vmcore vm history web-1 --json
"""


def add_vm_command(commands: Any) -> None:
    vm = commands.add_parser("vm", help="create, drive and inspect VMs",
                             description="Create, drive and inspect VMs (by name or id).",
                             epilog=_EPILOG)
    actions = vm.add_subparsers(dest="vm_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a VM", epilog=_EPILOG)
    create.add_argument("--name", required=True, metavar="NAME",
                        help="unique name: lower-case letters, digits and '-'")
    create.add_argument("--vcpus", type=positive_int, metavar="N", default=1, help="virtual CPUs")
    create.add_argument("--memory", default="128M", metavar="SIZE",
                        help="RAM, a size such as 512M or 2G")
    create.add_argument("--arch", default="riscv64", choices=ARCHITECTURES,
                        help="guest architecture")
    create.add_argument("--flag", action="append", default=[], dest="flags", choices=FLAGS,
                        help="a feature flag; repeat for several")
    create.add_argument("--max-vcpus", type=positive_int, metavar="N",
                        help="hot-plug limit for vCPUs (default: --vcpus)")
    create.add_argument("--max-memory", metavar="SIZE",
                        help="hot-plug limit for RAM (default: --memory)")
    create.add_argument("--tag", action="append", default=[], dest="tags", metavar="TAG",
                        help="a free-form tag; repeat for several")
    for name, text in (("start", "start a created, stopped or crashed VM"),
                       ("resume", "resume a paused VM"),
                       ("shutdown", "ask a running VM's guest to shut down"),
                       ("delete", "delete a created, stopped or crashed VM (final)"),
                       ("history", "a VM's events, oldest first")):
        actions.add_parser(name, help=text, description=text).add_argument(
            "vm", help="VM name or id")
    pause = actions.add_parser("pause", help="pause a running VM")
    pause.add_argument("vm", help="VM name or id")
    pause.add_argument("--reason", default="user", choices=PAUSE_REASONS,
                       help="why it is paused")
    stop = actions.add_parser("stop", help="stop a VM (destroy its guest)")
    stop.add_argument("vm", help="VM name or id")
    stop.add_argument("--force", action="store_true", help="record it as forced")
    show = actions.add_parser("show", help="one VM in detail")
    show.add_argument("vm", help="VM name or id")
    show.add_argument("--at-version", type=positive_int, metavar="N",
                      help="the VM as it was at this version (default: now)")
    snapshot = actions.add_parser("snapshot", help="record a snapshot of a paused VM")
    snapshot.add_argument("vm", help="VM name or id")
    snapshot.add_argument("snapshot_id", help="a name for the snapshot")
    snapshot.add_argument("--kind", choices=["full", "diff"], default="full",
                          help="full, or diff against --base")
    snapshot.add_argument("--base", help="base snapshot of a diff snapshot")
    restore = actions.add_parser("restore", help="restore a created/stopped VM from a snapshot")
    restore.add_argument("vm", help="VM name or id")
    restore.add_argument("snapshot_id", help="one of the VM's snapshots")
    restore.add_argument("--resume", action="store_true",
                         help="run it right away (else it stays paused)")
    migrate = actions.add_parser("migrate", help="start migrating a running VM")
    migrate.add_argument("vm", help="VM name or id")
    migrate.add_argument("destination", help="target host, e.g. trn:host:node-2")
    listing = actions.add_parser("list", help="every VM")
    listing.add_argument("--all", action="store_true", help="include deleted VMs")
    vm.set_defaults(run=run_vm_command)


_SIMPLE: dict[str, Callable[[ControlPlane, str, argparse.Namespace], Any]] = {
    "start": lambda cp, ref, a: cp.start_vm(ref),
    "pause": lambda cp, ref, a: cp.pause_vm(ref, _pause_reason(a.reason)),
    "resume": lambda cp, ref, a: cp.resume_vm(ref),
    "shutdown": lambda cp, ref, a: cp.shutdown_vm(ref),
    "stop": lambda cp, ref, a: cp.stop_vm(ref, force=a.force),
    "delete": lambda cp, ref, a: cp.delete_vm(ref),
    "snapshot": lambda cp, ref, a: cp.snapshot_vm(ref, a.snapshot_id, kind=a.kind,
                                                  base_snapshot_id=a.base),
    "restore": lambda cp, ref, a: cp.restore_vm(ref, a.snapshot_id, resume=a.resume),
    "migrate": lambda cp, ref, a: cp.migrate_vm(ref, a.destination),
}


def _pause_reason(value: str) -> Any:
    from vmcore.domain import PauseReason

    return PauseReason(value)


def run_vm_command(args: argparse.Namespace, session: CliSession) -> int:
    if session.remote_url():
        from vmcore.entrypoints.remote import run_remote

        return run_remote(args, session)
    from vmcore.entrypoints.presenters import column_table, event_record, rows_of, summary_columns

    cp = session.control_plane()
    command = args.vm_command
    if command == "create":
        from vmcore.domain import VmConfig

        config = VmConfig(vcpus=args.vcpus, memory=args.memory, arch=args.arch,
                          flags=frozenset(args.flags), max_vcpus=args.max_vcpus,
                          max_memory=args.max_memory)
        _show(cp.get_vm(cp.create_vm(args.name, config, tags=args.tags)), session)
    elif command == "list":
        columns = summary_columns(cp.list_vms(include_deleted=args.all))
        session.emit(lambda: rows_of(columns),
                     lambda: column_table({name: columns[name] for name in VM_COLUMNS}))
    elif command == "show":
        _show(cp.get_vm(args.vm, version=args.at_version), session, detail=True)
    elif command == "history":
        records = [event_record(event) for event in cp.history(args.vm)]
        from vmcore.entrypoints.events_command import write_events

        write_events(records, session)
    else:
        _show(_SIMPLE[command](cp, args.vm, args), session)
    return 0


def _show(vm: VirtualMachine, session: CliSession, detail: bool = False) -> None:
    from vmcore.entrypoints.presenters import key_values, vm_detail, vm_summary

    record = vm_detail(vm) if detail else vm_summary(vm)
    session.emit(record, lambda: key_values(record))
