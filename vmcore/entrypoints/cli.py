"""The ``vmcore`` command (also ``python -m vmcore``).

User mistakes (unknown VM, illegal transition, invalid config, unreachable store) print one
line to stderr and exit non-zero; only bugs print a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TextIO

from vmcore.application.control_plane import ControlPlane
from vmcore.application.errors import USER_ERRORS, ConfigurationError, StoreUnavailable
from vmcore.application.queries import EventQuery
from vmcore.composition.container import Container
from vmcore.domain import KNOWN_FLAGS, PauseReason, VirtualMachine, VmConfig
from vmcore.entrypoints.presenters import (
    event_record,
    key_values,
    table,
    to_json,
    vm_detail,
    vm_summary,
)

EXIT_USER_ERROR = 1
_VM_COLUMNS = ["name", "id", "state", "reason", "version", "vcpus", "memory", "arch"]
_SIMPLE_COMMANDS: dict[str, Callable[[ControlPlane, str, argparse.Namespace], Any]] = {
    "start": lambda cp, ref, a: cp.start_vm(ref),
    "pause": lambda cp, ref, a: cp.pause_vm(ref, PauseReason(a.reason)),
    "resume": lambda cp, ref, a: cp.resume_vm(ref),
    "shutdown": lambda cp, ref, a: cp.shutdown_vm(ref),
    "stop": lambda cp, ref, a: cp.stop_vm(ref, force=a.force),
    "delete": lambda cp, ref, a: cp.delete_vm(ref),
    "snapshot": lambda cp, ref, a: cp.snapshot_vm(ref, a.snapshot_id, kind=a.kind,
                                                  base_snapshot_id=a.base),
    "restore": lambda cp, ref, a: cp.restore_vm(ref, a.snapshot_id, resume=a.resume),
    "migrate": lambda cp, ref, a: cp.migrate_vm(ref, a.destination),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vmcore", description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="file[:DIR] (default ./.vmcore), sqlite[:FILE],"
                        " postgres[:DSN] or memory; or set VMCORE_STORE")
    parser.add_argument("--config", help="a .json or .ini settings file")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    # ``--json`` is accepted after the subcommand too; SUPPRESS keeps the global value.
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                           help="machine-readable output")
    commands = parser.add_subparsers(dest="command", required=True)

    vm = commands.add_parser("vm", help="create, drive and inspect VMs").add_subparsers(
        dest="vm_command", required=True)
    vm.add_parser = _with_parents(vm.add_parser, json_flag)  # type: ignore[method-assign]
    commands.add_parser = _with_parents(commands.add_parser, json_flag)  # type: ignore[method-assign]
    create = vm.add_parser("create", help="create a VM")
    create.add_argument("--name", required=True)
    create.add_argument("--vcpus", type=int, default=1)
    create.add_argument("--memory", default="128M", help="size such as 512M or 2G")
    create.add_argument("--arch", default="riscv64", help="riscv64, x86_64 or aarch64")
    create.add_argument("--flag", action="append", default=[], dest="flags",
                        help=f"repeatable: {', '.join(sorted(KNOWN_FLAGS))}")
    create.add_argument("--max-vcpus", type=int)
    create.add_argument("--max-memory")
    create.add_argument("--tag", action="append", default=[], dest="tags")
    for name in ("start", "resume", "shutdown", "delete", "history"):
        vm.add_parser(name, help=f"{name} a VM" if name != "history" else "a VM's events"
                      ).add_argument("vm", help="VM name or id")
    pause = vm.add_parser("pause", help="pause a running VM")
    pause.add_argument("vm")
    pause.add_argument("--reason", default="user", choices=[r.value for r in PauseReason])
    stop = vm.add_parser("stop", help="stop a VM (destroy)")
    stop.add_argument("vm")
    stop.add_argument("--force", action="store_true")
    show = vm.add_parser("show", help="one VM in detail")
    show.add_argument("vm")
    show.add_argument("--at-version", type=int, help="the VM as it was at this version")
    snapshot = vm.add_parser("snapshot", help="record a snapshot of a paused VM")
    snapshot.add_argument("vm")
    snapshot.add_argument("snapshot_id")
    snapshot.add_argument("--kind", choices=["full", "diff"], default="full")
    snapshot.add_argument("--base", help="base snapshot of a diff snapshot")
    restore = vm.add_parser("restore", help="restore a created/stopped VM from a snapshot")
    restore.add_argument("vm")
    restore.add_argument("snapshot_id")
    restore.add_argument("--resume", action="store_true")
    migrate = vm.add_parser("migrate", help="start migrating a running VM")
    migrate.add_argument("vm")
    migrate.add_argument("destination")
    listing = vm.add_parser("list", help="every VM")
    listing.add_argument("--all", action="store_true", help="include deleted VMs")

    commands.add_parser("demo", help="the main job: a tour of the lifecycle, then a replay check")

    from vmcore.entrypoints.guest_command import add_run_command

    add_run_command(commands)

    from vmcore.entrypoints.store_command import add_store_commands

    add_store_commands(commands)

    from vmcore.entrypoints.services_command import add_services_command

    add_services_command(commands)

    events = commands.add_parser("events", help="query events across VMs")
    events.add_argument("--topic", help="bus topic or pattern, e.g. vm.* or vm.started")
    events.add_argument("--since", type=_timestamp, help="ISO time, e.g. 2026-01-01T00:00Z")
    events.add_argument("--until", type=_timestamp)
    events.add_argument("--correlation")
    events.add_argument("--trn", help="actor/source/target TRN or pattern, e.g. trn:user:alice")
    events.add_argument("--limit", type=int)
    return parser


def _with_parents(add_parser: Callable[..., argparse.ArgumentParser],
                  parent: argparse.ArgumentParser) -> Callable[..., argparse.ArgumentParser]:
    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return add_parser(name, parents=[parent], **kwargs)
    return add


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone (e.g. 'Z'): {text!r}")
    return value


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args, out)
    except USER_ERRORS as error:
        err.write(f"vmcore: error: {error}\n")
        return EXIT_USER_ERROR


def _open(args: argparse.Namespace) -> tuple[Container, ControlPlane]:
    container = Container.from_settings({"store": args.store}, config_file=args.config)
    try:
        return container, container.control_plane()
    except ConfigurationError:
        raise
    except Exception as error:  # the store's own errors differ per driver
        raise StoreUnavailable(
            f"cannot open store {container.config.store()!r}: {_first_line(error)}"
        ) from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _dispatch(args: argparse.Namespace, out: TextIO) -> int:
    if args.command == "store":
        from vmcore.entrypoints.store_command import run_store_command

        return run_store_command(args, out)
    if args.command == "services":
        from vmcore.entrypoints.services_command import run_services_command

        return run_services_command(args, out)
    container, cp = _open(args)
    try:
        if args.command == "demo":
            from vmcore.entrypoints.demo import run_demo

            return 0 if run_demo(cp, lambda: _open(args)[1], out) else 1
        if args.command == "events":
            return _events(cp, args, out)
        if args.command == "run":
            from vmcore.entrypoints.guest_command import run_guest

            return run_guest(cp, container.bus(), args, services=container.services(),
                             snapshot_dir=container.config.machine_snapshots())
        return _vm(cp, args, out)
    finally:
        cp.close()
        container.shutdown_resources()


def _vm(cp: ControlPlane, args: argparse.Namespace, out: TextIO) -> int:
    command = args.vm_command
    if command == "create":
        config = VmConfig(vcpus=args.vcpus, memory=args.memory, arch=args.arch,
                          flags=frozenset(args.flags), max_vcpus=args.max_vcpus,
                          max_memory=args.max_memory)
        vm_id = cp.create_vm(args.name, config, tags=args.tags)
        _show_vm(cp.get_vm(vm_id), args, out)
    elif command == "list":
        rows = [vm_summary(vm) for vm in cp.list_vms(include_deleted=args.all)]
        out.write((to_json(rows) if args.json else table(rows, _VM_COLUMNS)) + "\n")
    elif command == "show":
        _show_vm(cp.get_vm(args.vm, version=args.at_version), args, out, detail=True)
    elif command == "history":
        records = [event_record(event) for event in cp.history(args.vm)]
        _write_events(records, args, out)
    else:
        _show_vm(_SIMPLE_COMMANDS[command](cp, args.vm, args), args, out)
    return 0


def _show_vm(vm: VirtualMachine, args: argparse.Namespace, out: TextIO,
             detail: bool = False) -> None:
    record = vm_detail(vm) if detail else vm_summary(vm)
    out.write((to_json(record) if args.json else key_values(record)) + "\n")


def _events(cp: ControlPlane, args: argparse.Namespace, out: TextIO) -> int:
    query = EventQuery(topic=args.topic, since=args.since, until=args.until,
                       correlation_id=args.correlation, trn=args.trn, limit=args.limit)
    if query.trn is not None and not query.trn.startswith("trn:"):
        raise ConfigurationError(f"--trn must look like trn:<kind>:<name>, got {query.trn!r}")
    _write_events([event_record(event) for event in cp.query_events(query)], args, out)
    return 0


def _write_events(records: list[dict[str, Any]], args: argparse.Namespace,
                  out: TextIO) -> None:
    if args.json:
        out.write(to_json(records) + "\n")
        return
    rows = [{"time": r["timestamp"], "vm": r["meta"]["target"], "version": r["version"],
             "topic": r["topic"], "actor": r["meta"]["actor"]} for r in records]
    out.write(table(rows, ["time", "vm", "version", "topic", "actor"]) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
