"""``vmcore store copy|verify|reindex``: move a whole store to another backend, prove it,
rebuild a file store's persistent index."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

from vmcore.application.control_plane import ControlPlane
from vmcore.application.errors import VmcoreError
from vmcore.composition.stores import StoreSpec
from vmcore_event_store.copy import (
    CopyError,
    CopyProgress,
    Store,
    copy_store,
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
    reindex = actions.add_parser(
        "reindex", help="rebuild a file store's index from its log (safe while in use)"
    )
    reindex.add_argument("--store", dest="reindex_store", help="file[:DIR] (default: --store)")


def run_store_command(args: argparse.Namespace, out: TextIO) -> int:
    if args.store_command == "reindex":
        return _reindex(args, out)
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


def _reindex(args: argparse.Namespace, out: TextIO) -> int:
    import os

    from vmcore_event_store.file import FileStoreError
    from vmcore_event_store.file.reindex import reindex_store

    text = args.reindex_store or getattr(args, "store", None) or os.environ.get("VMCORE_STORE")
    spec = StoreSpec.parse(text or "file")
    if spec.kind != "file":
        out.write(f"nothing to reindex: {spec} keeps its own indexes\n")
        return 0
    path = spec.env()["VMCORE_FILE_STORE_PATH"]
    try:
        logs = reindex_store(path)
    except (FileStoreError, OSError) as error:
        raise StoreCommandError(f"cannot reindex {path}: {error}") from error
    for log in logs:
        out.write(f"reindexed {log.directory}: notifications up to {log.max_notification_id},"
                  f" checkpoint at segment {log.segment_no} offset {log.offset}\n")
    return 0


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
