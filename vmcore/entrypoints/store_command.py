"""``vmcore store copy|verify``: move a whole store to another backend, and prove it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from vmcore.entrypoints.arguments import positive_int

if TYPE_CHECKING:
    from vmcore.entrypoints.cli_session import CliSession
    from vmcore_event_store.copy import CopyProgress, Store

_EPILOG = """\
examples:
  vmcore store copy --to sqlite:/backup/vmcore.sqlite        # from the store in effect
  vmcore store verify --to sqlite:/backup/vmcore.sqlite
  vmcore store copy --from file:/srv/vmcore --to postgresql://vmcore@db/vmcore --json

SPEC is file[:DIR], sqlite[:FILE], postgres[:DSN] or memory; a bare `file` or `sqlite`
means the default location (see `vmcore info`).
"""


def add_store_commands(commands: Any) -> None:
    store = commands.add_parser("store", help="copy a store to another backend, verify copies",
                                description="Copy a whole store to another backend (ids,"
                                " versions and order preserved; resumable) and verify copies.",
                                epilog=_EPILOG)
    actions = store.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    for name, text in (("copy", "copy every event and snapshot, preserving ids; resumable"),
                       ("verify", "compare two stores event by event and snapshot by snapshot")):
        action = actions.add_parser(name, help=text, description=text, epilog=_EPILOG)
        action.add_argument("--from", dest="source", metavar="SPEC",
                            help="the store to read (default: the store in effect, from"
                            " --store, VMCORE_STORE or --config)")
        action.add_argument("--to", dest="target", metavar="SPEC", required=True,
                            help="the other store")
        action.add_argument("--page-size", type=positive_int, default=500, metavar="N",
                            help="events per read and per atomic write")
        # Each action sets its own run function: another action (salvage, reindex ...) is
        # one more add_parser with its own set_defaults(run=...).
        action.set_defaults(run=run_store_command)
    salvage = actions.add_parser(
        "salvage", help="copy every intact record of a damaged file store to a new store and"
        " report what was lost, by file and offset", epilog=_SALVAGE_EPILOG)
    salvage.add_argument("source", metavar="SRC", help="the damaged file store's directory")
    salvage.add_argument("target", metavar="DST", help="a new, empty store: a directory (file"
                         " store) or a store spec")
    salvage.set_defaults(run=run_salvage_command)
    reindex = actions.add_parser(
        "reindex", help="rebuild a file store's persistent index from its log (safe while in"
        " use)", epilog=_REINDEX_EPILOG)
    reindex.add_argument("--store", dest="reindex_store", metavar="SPEC",
                         help="file[:DIR] (default: the store in effect)")
    reindex.set_defaults(run=run_reindex_command)


_SALVAGE_EPILOG = """\
examples:
  vmcore store salvage /srv/vmcore /srv/vmcore-rescued
  vmcore store salvage /srv/vmcore sqlite:/tmp/rescued.sqlite --json

Exit status 0 when every record was intact, 1 when something was lost (each loss listed).
"""


_REINDEX_EPILOG = """\
examples:
  vmcore store reindex
  vmcore store reindex --store file:/srv/vmcore

The index is derived data: a torn or stale one is detected and rebuilt on open anyway.
"""


def run_store_command(args: argparse.Namespace, session: CliSession) -> int:
    from vmcore.application.errors import ConfigurationError
    from vmcore.composition.stores import StoreSpec

    source_spec = StoreSpec.parse(args.source or str(session.container().config.store()))
    target_spec = StoreSpec.parse(args.target)
    source_spec, target_spec = (source_spec.resolved(session.environ),
                                target_spec.resolved(session.environ))
    if source_spec == target_spec and source_spec.kind != "memory":
        raise ConfigurationError(f"--from and --to are the same store"
                                 f" ({source_spec.redacted()}): give another --to")
    source = _open(source_spec, session)
    try:
        target = _open(target_spec, session)
        try:
            return _copy(args, session, source, target) if args.store_command == "copy" \
                else _verify(args, session, source, target)
        finally:
            target.close()
    finally:
        source.close()


def _copy(args: argparse.Namespace, session: CliSession, source: Store, target: Store) -> int:
    from vmcore_event_store.copy import copy_store

    report = copy_store(source, target, page_size=args.page_size,
                        progress=None if session.json else _progress_printer(session.err))
    resumed = f" (resumed after {report.resumed_after})" if report.resumed_after else ""
    record = {"events_copied": report.events_copied,
              "snapshots_copied": report.snapshots_copied,
              "resumed_after": report.resumed_after,
              "last_notification_id": report.last_notification_id}
    session.emit(record, f"copied {report.events_copied} events and"
                 f" {report.snapshots_copied} snapshots{resumed};"
                 f" last notification id {report.last_notification_id}")
    return 0


def _verify(args: argparse.Namespace, session: CliSession, source: Store, target: Store) -> int:
    from vmcore_event_store.copy import verify_stores

    verdict = verify_stores(source, target, page_size=args.page_size)
    record = {"identical": verdict.identical, "events_compared": verdict.events_compared,
              "snapshots_compared": verdict.snapshots_compared,
              "first_difference": verdict.first_difference}
    if verdict.identical:
        text = (f"identical: {verdict.events_compared} events and"
                f" {verdict.snapshots_compared} snapshots compared")
    else:
        text = f"different after {verdict.events_compared} events: {verdict.first_difference}"
    session.emit(record, text)
    return 0 if verdict.identical else 1


def _open(spec: Any, session: CliSession) -> Store:
    from vmcore.application.control_plane import ControlPlane
    from vmcore.application.errors import StoreUnavailable
    from vmcore.entrypoints.cli_errors import describe, one_line
    from vmcore_event_store.copy import Store

    try:
        return Store.from_env(spec.env(environ=session.environ), name=ControlPlane.name)
    except Exception as error:  # each driver fails in its own way
        if describe(error) is not None and not isinstance(error, OSError):
            raise
        raise StoreUnavailable(
            f"cannot open store {spec.redacted()!r}: {one_line(error)}") from None


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


def run_salvage_command(args: argparse.Namespace, session: CliSession) -> int:
    """Exit 0 if every record was intact, 1 if something was lost (each loss listed)."""
    import os

    from vmcore.application.errors import ConfigurationError, VmcoreError
    from vmcore.composition.stores import StoreSpec
    from vmcore_event_store.copy import inserter
    from vmcore_event_store.file.salvage import SalvageTarget, salvage

    if not os.path.isdir(os.path.join(args.source, "events")):
        raise VmcoreError(f"{args.source!r} is not a file store (no events/ directory)")
    try:
        spec = StoreSpec.parse(args.target)
    except ConfigurationError:
        spec = StoreSpec("file", args.target)
    spec = spec.resolved(session.environ)
    if spec.kind == "file" and os.path.realpath(spec.location) == os.path.realpath(args.source):
        raise ConfigurationError("salvage into a new store, not into the damaged one")
    target = _open(spec, session)
    try:
        if target.events.max_notification_id():
            raise ConfigurationError(f"target store {spec.redacted()!r} is not empty")
        assert target.factory is not None
        process = target.factory.process_recorder()
        snapshots = target.snapshots
        report = salvage(args.source, SalvageTarget(
            insert_notifications=inserter(target.events),
            insert_tracking=lambda tracking: process.insert_events([], tracking=tracking),
            insert_snapshots=None if snapshots is None else snapshots.insert_events))
    finally:
        target.close()
    losses = [str(loss) for loss in report.losses]
    text = [f"salvaged {report.events} events, {report.snapshots} snapshots and"
            f" {report.tracking} tracking positions into {spec.redacted()}"]
    text += [f"lost: {loss}" for loss in losses] or ["lost: nothing"]
    session.emit({"events": report.events, "snapshots": report.snapshots,
                  "tracking": report.tracking, "lost": losses, "complete": report.complete},
                 "\n".join(text))
    return 0 if report.complete else 1


def run_reindex_command(args: argparse.Namespace, session: CliSession) -> int:
    from vmcore.application.errors import VmcoreError
    from vmcore.composition.stores import StoreSpec
    from vmcore_event_store.file import FileStoreError
    from vmcore_event_store.file.reindex import reindex_store

    text = args.reindex_store or str(session.container().config.store())
    spec = StoreSpec.parse(text).resolved(session.environ)
    if spec.kind != "file":
        session.emit({"reindexed": []}, f"nothing to reindex: {spec.redacted()} keeps its own"
                     " indexes")
        return 0
    path = spec.env(environ=session.environ)["VMCORE_FILE_STORE_PATH"]
    try:
        logs = reindex_store(path)
    except (FileStoreError, OSError) as error:
        raise VmcoreError(f"cannot reindex {path}: {error}") from None
    records = [{"log": str(log.directory), "max_notification_id": log.max_notification_id,
                "segment": log.segment_no, "offset": log.offset} for log in logs]
    session.emit({"reindexed": records}, "\n".join(
        f"reindexed {log.directory}: notifications up to {log.max_notification_id},"
        f" checkpoint at segment {log.segment_no} offset {log.offset}" for log in logs))
    return 0
