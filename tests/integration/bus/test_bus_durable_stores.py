"""Durable subscriptions against real stores: SQLite files (polling) and PostgreSQL
(polling), and the file store when it is installed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import TrackingRecorder

from vmcore.bus import UnifiedEventBus
from vmcore.composition.stores import SQLITE_RECORDER


class Meter(Aggregate):
    class Ticked(Aggregate.Event):
        bus_topic: ClassVar[str] = "meter.ticked"
        n: int

    @event("Created")
    def __init__(self) -> None:
        self.ticks = 0

    @event(Ticked)
    def tick(self, n: int) -> None:
        self.ticks += 1


class BusMeterApp(Application[UUID]):
    """Its own name, so its Postgres tables (busmeterapp_*) are this module's alone."""


def _sqlite_env(path: Path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path),
            "APPLICATION_RECORDER_TOPIC": SQLITE_RECORDER}


def _postgres_env() -> dict[str, str]:
    env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_SCHEMA": "public"}
    for key in ("HOST", "PORT", "USER", "PASSWORD", "DBNAME"):
        env[f"POSTGRES_{key}"] = os.environ[f"POSTGRES_{key}"]
    return env


def _tick(app: Application[UUID], meter: Meter, ns: range) -> list[Any]:
    for n in ns:
        meter.tick(n)
    return [r.domain_event for r in app.save(meter)]


def _last(app: Application[UUID]) -> int:
    last = app.recorder.max_notification_id()
    assert last is not None
    return last


def _check_catch_up_restart_and_live(env: dict[str, str], view: TrackingRecorder) -> None:
    app = BusMeterApp(env=env)
    meter = Meter()
    _tick(app, meter, range(0, 50))
    seen: list[int] = []
    bus = UnifiedEventBus(durable_source=app)
    durable = bus.subscribe_durable(
        "ticks", lambda e: seen.append(e.n), ["meter.ticked"], view=view
    )
    durable.wait(_last(app))
    _tick(app, meter, range(50, 60))  # live, no in-process wake-up
    durable.wait(_last(app))
    bus.stop()
    _tick(app, meter, range(60, 80))  # written while nobody listens
    again: list[int] = []
    bus2 = UnifiedEventBus(durable_source=app)
    durable2 = bus2.subscribe_durable("ticks", lambda e: again.append(e.n), ["meter.*"], view=view)
    durable2.wait(_last(app))
    bus2.stop()
    app.close()
    assert (list(range(60)), list(range(60, 80))) == (seen, again)


def test_sqlite_file_store_catch_up_restart_and_live(tmp_path: Path) -> None:
    env = _sqlite_env(tmp_path / "app.db")
    view_app = BusMeterApp(env=_sqlite_env(tmp_path / "view.db"))
    _check_catch_up_restart_and_live(env, view_app.factory.tracking_recorder())


def test_sqlite_subscriber_is_woken_by_in_process_publishing(tmp_path: Path) -> None:
    app = BusMeterApp(env=_sqlite_env(tmp_path / "app.db"))
    meter = Meter()
    _tick(app, meter, range(3))
    seen: list[int] = []
    bus = UnifiedEventBus(durable_source=app)
    # An hour between polls: only the wake-up can deliver the live events in time.
    durable = bus.subscribe_durable(
        "ticks", lambda e: seen.append(e.n), ["meter.ticked"], poll_interval=3600
    )
    durable.wait(_last(app))
    for domain_event in _tick(app, meter, range(3, 6)):  # what the ControlPlane does
        bus.publish(domain_event)
    durable.wait(_last(app))
    bus.stop()
    assert [0, 1, 2, 3, 4, 5] == seen


@pytest.fixture
def postgres_env() -> Iterator[dict[str, str]]:
    env = _postgres_env()
    yield env
    import psycopg

    dsn = (
        f"host={env['POSTGRES_HOST']} port={env['POSTGRES_PORT']} user={env['POSTGRES_USER']} "
        f"password={env['POSTGRES_PASSWORD']} dbname={env['POSTGRES_DBNAME']}"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in ("busmeterapp_events", "busmeterapp_tracking"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.mark.postgres
def test_postgres_catch_up_restart_and_live(postgres_env: dict[str, str]) -> None:
    view_app = BusMeterApp(env=postgres_env)
    _check_catch_up_restart_and_live(postgres_env, view_app.factory.tracking_recorder())


def test_file_store_catch_up_restart_and_live(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "vmcore_event_store.file", "VMCORE_FILE_STORE_PATH": str(tmp_path)}
    view_app = BusMeterApp(env=_sqlite_env(tmp_path / "view.db"))
    _check_catch_up_restart_and_live(env, view_app.factory.tracking_recorder())
