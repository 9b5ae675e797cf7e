"""A copying process for the SIGKILL test (run as a script, not collected by pytest).

Usage: python copy_child_proc.py SQLITE_PATH POSTGRES_SCHEMA

Copies the SQLite store into PostgreSQL one event per page and prints the last
notification id after each stored page, until the parent kills it.
"""

from __future__ import annotations

import os
import sys

from vmcore_event_store.copy import CopyProgress, Store, copy_store


def main(argv: list[str]) -> int:
    source = Store.from_env(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": argv[1]}, name="Fleet"
    )
    target = Store.from_env(
        {**os.environ, "PERSISTENCE_MODULE": "vmcore_event_store.postgres",
         "POSTGRES_SCHEMA": argv[2]},
        name="Fleet",
    )

    def report(progress: CopyProgress) -> None:
        print(progress.last_notification_id, flush=True)

    copy_store(source, target, page_size=1, progress=report)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
