"""``vmcore store copy|verify|salvage``: move a whole store to another backend, prove it,
and rescue the intact part of a damaged file store."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TextIO

from vmcore.application.control_plane import ControlPlane
from vmcore.application.errors import ConfigurationError, VmcoreError
from vmcore.composition.stores import StoreSpec
from vmcore_event_store.copy import (
    CopyError,
    CopyProgress,
    Store,
    copy_store,
    inserter,
    verify_stores,
)


class StoreCommandError(VmcoreError):
    """A copy or verify that cannot proceed (diverged target, unreachable store ...)."""


def add_store_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    store = commands.add_parser("store", help="copy a store to another backend, verify copies")
    actions = store.add_subparsers(dest="store_command", required=True)
    for name, text in (("copy", "copy every event and snapshot, preserving ids; resumable"),
                       ("verify", "compare two stores event by event and snapshot by snapshot")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--from", dest="source", required=True, help="store spec")
        action.add_argument("--to", dest="target", required=True, help="store spec")
        action.add_argument("--page-size", type=int, default=500)
    salvage = actions.add_parser(
        "salvage", help="copy every intact record of a damaged file store to a new store and"
        " report what was lost, by file and offset")
    salvage.add_argument("source", metavar="SRC", help="the damaged file store's directory")
    salvage.add_argument("target", metavar="DST", help="a new, empty store: a directory (file"
                         " store) or a store spec")


def run_store_command(args: argparse.Namespace, out: TextIO) -> int:
    if args.store_command == "salvage":
        return _salvage(args.source, args.target, out)
    source, target = _open(args.source), _open(args.target)
    try:
        if args.store_command == "copy":
            report = copy_store(source, target, page_size=args.page_size,
                                progress=_progress_printer(sys.stderr))
            resumed = f" (resumed after {report.resumed_after})" if report.resumed_after else ""
            out.write(f"copied {report.events_copied} events and {report.snapshots_copied}"
                      f" snapshots{resumed}; last notification id {report.last_notification_id}\n")
            return 0
        verdict = verify_stores(source, target, page_size=args.page_size)
        if verdict.identical:
            out.write(f"identical: {verdict.events_compared} events and"
                      f" {verdict.snapshots_compared} snapshots compared\n")
            return 0
        out.write(f"different after {verdict.events_compared} events:"
                  f" {verdict.first_difference}\n")
        return 1
    except CopyError as error:
        raise StoreCommandError(str(error)) from error
    finally:
        source.close()
        target.close()


def _open(spec_text: str) -> Store:
    spec = StoreSpec.parse(spec_text)
    try:
        return Store.from_env(spec.env(), name=ControlPlane.name)
    except Exception as error:  # each driver fails in its own way
        first = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise StoreCommandError(f"cannot open store {spec_text!r}: {first}") from error


def _progress_printer(err: TextIO) -> Callable[[CopyProgress], None]:
    def report(progress: CopyProgress) -> None:
        if progress.phase == "events":
            err.write(f"\rcopying events: {progress.last_notification_id}"
                      f"/{progress.source_max_notification_id}")
            if progress.last_notification_id >= progress.source_max_notification_id:
                err.write("\n")
        else:
            err.write(f"\rcopying snapshots: {progress.snapshots_copied}")
        err.flush()
    return report


def _salvage(source_dir: str, target_text: str, out: TextIO) -> int:
    """Exit 0 if every record was intact, 1 if something was lost (listed on ``out``)."""
    from vmcore_event_store.file.salvage import SalvageTarget, salvage

    if not os.path.isdir(os.path.join(source_dir, "events")):
        raise StoreCommandError(f"{source_dir!r} is not a file store (no events/ directory)")
    try:
        spec = StoreSpec.parse(target_text)
    except ConfigurationError:
        spec = StoreSpec("file", target_text)
    if spec.kind == "file" and os.path.realpath(spec.location or ".vmcore") == \
            os.path.realpath(source_dir):
        raise StoreCommandError("salvage into a new store, not into the damaged one")
    target = _open(str(spec))
    try:
        if target.events.max_notification_id():
            raise StoreCommandError(f"target store {target_text!r} is not empty")
        assert target.factory is not None
        process = target.factory.process_recorder()
        snapshots = target.snapshots
        report = salvage(source_dir, SalvageTarget(
            insert_notifications=inserter(target.events),
            insert_tracking=lambda tracking: process.insert_events([], tracking=tracking),
            insert_snapshots=None if snapshots is None else snapshots.insert_events))
    finally:
        target.close()
    out.write(f"salvaged {report.events} events, {report.snapshots} snapshots and"
              f" {report.tracking} tracking positions into {spec}\n")
    for loss in report.losses:
        out.write(f"lost: {loss}\n")
    if report.complete:
        out.write("lost: nothing\n")
    return 0 if report.complete else 1
