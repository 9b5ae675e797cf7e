"""``vmcore events``: query the events of every VM, by topic, VM, time, correlation or TRN."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from vmcore.entrypoints.arguments import positive_int, timestamp

if TYPE_CHECKING:
    from vmcore.entrypoints.cli_session import CliSession

_EPILOG = """\
examples:
  vmcore events --topic 'vm.*' --limit 20
  vmcore events --topic vm.started --since 2026-01-01T00:00Z
  vmcore events --trn trn:user:alice --json
  vmcore events --vm web-1 --topic 'vm.device_*'
"""


def add_events_command(commands: Any) -> None:
    events = commands.add_parser("events", help="query events across VMs",
                                 description="Events of every VM, in commit order.",
                                 epilog=_EPILOG)
    events.add_argument("--topic", metavar="PATTERN",
                        help="bus topic or pattern, e.g. vm.* or vm.started"
                        " (default: every topic)")
    events.add_argument("--vm", metavar="VM", help="only this VM's events (name or id)")
    events.add_argument("--since", type=timestamp, metavar="TIME",
                        help="ISO time with a zone, e.g. 2026-01-01T00:00Z")
    events.add_argument("--until", type=timestamp, metavar="TIME", help="ISO time with a zone")
    events.add_argument("--correlation", metavar="ID", help="only this correlation id")
    events.add_argument("--trn", help="actor/source/target TRN or pattern, e.g. trn:user:alice")
    events.add_argument("--limit", type=positive_int, metavar="N",
                        help="at most this many (default: all)")
    events.set_defaults(run=run_events_command)


def run_events_command(args: argparse.Namespace, session: CliSession) -> int:
    if session.remote_url():
        from vmcore.entrypoints.remote import run_remote

        return run_remote(args, session)
    from vmcore.application.errors import ConfigurationError
    from vmcore.application.queries import EventQuery
    from vmcore.entrypoints.presenters import event_record

    if args.trn is not None and not args.trn.startswith("trn:"):
        raise ConfigurationError(f"--trn must look like trn:<kind>:<name>, got {args.trn!r}")
    cp = session.control_plane()
    query = EventQuery(topic=args.topic, vm_id=None if args.vm is None else cp.resolve(args.vm),
                       since=args.since, until=args.until, correlation_id=args.correlation,
                       trn=args.trn, limit=args.limit)
    events = cp.query_events(query)
    write_events([event_record(event) for event in events], session)
    return 0


def write_events(records: list[dict[str, Any]], session: CliSession) -> None:
    from vmcore.entrypoints.presenters import table

    rows = [{"time": r["timestamp"], "vm": r["meta"].get("target"), "version": r["version"],
             "topic": r["topic"], "actor": r["meta"].get("actor")} for r in records]
    session.emit(records, lambda: table(rows, ["time", "vm", "version", "topic", "actor"]))
