"""A separate process for the durable-subscription tests (not collected by pytest).

    durable_worker.py write APP_DB COUNT CHUNK   append COUNT increments, CHUNK per commit
    durable_worker.py follow APP_DB VIEW_DIR     follow the log until killed

``follow`` runs two durable subscribers: "exact" (an eventsourcing Projection whose effect
and position are written in one SQLite transaction: exactly once) and "atleast" (a plain
handler appending to a file, position recorded after it: at least once). Both scripts run as
``__main__``, so the stored event topics (``__main__:Counter...``) resolve in both.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.sqlite import SQLiteCursor, SQLiteFactory, SQLiteTrackingRecorder
from eventsourcing.utils import Environment

from vmcore.bus import UnifiedEventBus
from vmcore.composition.stores import SQLITE_RECORDER


class Counter(Aggregate):
    class Incremented(Aggregate.Event):
        bus_topic: ClassVar[str] = "counter.incremented"
        by: int

    @event("Created")
    def __init__(self) -> None:
        self.value = 0

    @event(Incremented)
    def increment(self, by: int) -> None:
        self.value += by


class ProcessedView(SQLiteTrackingRecorder):
    """Rows of processed notifications, written in the tracking record's transaction."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS processed (notification_id INTEGER, amount INTEGER)",
        ]

    def record(self, amount: int, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._record(c, amount, tracking)

    def _record(self, c: SQLiteCursor, amount: int, tracking: Tracking) -> None:
        c.execute("INSERT INTO processed VALUES (?, ?)", (tracking.notification_id, amount))
        self._insert_tracking(c, tracking)

    def processed_ids(self) -> list[int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT notification_id FROM processed ORDER BY rowid")
            return [row[0] for row in c.fetchall()]


class ExactProjection(Projection[ProcessedView]):
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.record(getattr(domain_event, "by", 0), tracking)


def app_env(app_db: str) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": app_db,
            "APPLICATION_RECORDER_TOPIC": SQLITE_RECORDER}


def open_view(path: str, view_class: type[SQLiteTrackingRecorder]) -> Any:
    factory = SQLiteFactory(Environment("view", {"SQLITE_DBNAME": path}))
    return factory.tracking_recorder(view_class)


def write(app_db: str, count: int, chunk: int) -> None:
    app: Application[UUID] = Application(env=app_env(app_db))
    counter = Counter()
    app.save(counter)
    for start in range(0, count, chunk):
        for by in range(start, min(count, start + chunk)):
            counter.increment(by)
        app.save(counter)


def follow(app_db: str, view_dir: str) -> None:
    app: Application[UUID] = Application(env=app_env(app_db))
    bus = UnifiedEventBus(durable_source=app)
    exact = ExactProjection(view=open_view(f"{view_dir}/exact.db", ProcessedView))
    bus.subscribe_durable("exact", exact, poll_interval=0.02)
    with Path(view_dir, "atleast.txt").open("a", buffering=1) as out:

        def append(domain_event: Any) -> None:
            out.write(f"{domain_event.originator_id}:{domain_event.originator_version}\n")

        atleast_view = open_view(f"{view_dir}/atleast.db", SQLiteTrackingRecorder)
        bus.subscribe_durable("atleast", append, view=atleast_view, poll_interval=0.02)
        print("ready", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
        bus.stop()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "write":
        write(args[0], int(args[1]), int(args[2]))
    elif command == "follow":
        follow(args[0], args[1])
    else:
        raise SystemExit(f"unknown command {command!r}")
    sys.stdout.flush()
    os._exit(0)
