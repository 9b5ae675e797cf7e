"""Store copy and verify between SQLite and PostgreSQL (and the file store, when present).

A real eventsourcing application writes aggregates and snapshots into the source; the copy
must preserve notification ids, versions and order, be resumable after an interruption,
and verify must name the first difference.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmcore_event_store.copy import CopyError, CopyProgress, Store, copy_store, verify_stores


class Machine(Aggregate):
    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.starts = 0

    @event("Started")
    def start(self) -> None:
        self.starts += 1


class Fleet(Application[uuid.UUID]):
    snapshotting_intervals = {Machine: 3}


def _sqlite_env(path: Path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}


def _populate(env: dict[str, str], machines: int, starts: int) -> list[uuid.UUID]:
    app = Fleet(env=env)
    ids = []
    for i in range(machines):
        machine = Machine(f"vm{i}")
        for _ in range(starts + i % 3):
            machine.start()
        app.save(machine)
        ids.append(machine.id)
    app.close()
    return ids


class _Interrupt(Exception):
    pass


def _interrupt_after(pages: int) -> Any:
    seen: list[CopyProgress] = []

    def callback(progress: CopyProgress) -> None:
        seen.append(progress)
        if progress.phase == "events" and len(seen) == pages:
            raise _Interrupt

    return callback


def _copy_resumed(source: Store, target: Store, interrupt_at: int, page_size: int) -> int:
    """Copies with an interruption after `interrupt_at` pages, then resumes; returns the
    number of events the resumed run copied."""
    with pytest.raises(_Interrupt):
        copy_store(source, target, page_size=page_size, progress=_interrupt_after(interrupt_at))
    return copy_store(source, target, page_size=page_size).events_copied


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    machines=st.integers(1, 12),
    starts=st.integers(0, 6),
    page_size=st.integers(1, 9),
    interrupt_at=st.integers(1, 4),
)
def test_sqlite_to_sqlite_copy_resumes_where_it_stopped(
    tmp_path_factory: pytest.TempPathFactory,
    machines: int,
    starts: int,
    page_size: int,
    interrupt_at: int,
) -> None:
    directory = tmp_path_factory.mktemp("copy")
    source_env, target_env = _sqlite_env(directory / "a.db"), _sqlite_env(directory / "b.db")
    _populate(source_env, machines, starts)
    source = Store.from_env(source_env, name="Fleet")
    target = Store.from_env(target_env, name="Fleet")
    total = source.events.max_notification_id() or 0
    if total > page_size * interrupt_at:
        remaining = _copy_resumed(source, target, interrupt_at, page_size)
        assert total - page_size * interrupt_at == remaining
    else:
        assert total == copy_store(source, target, page_size=page_size).events_copied
    report = verify_stores(source, target)
    assert (True, total) == (report.identical, report.events_compared)
    assert 0 == copy_store(source, target).events_copied  # already complete: nothing to do


def _pg_conninfo() -> dict[str, Any]:
    keys = ("DBNAME", "HOST", "PORT", "USER", "PASSWORD")
    return {k.lower(): os.environ["POSTGRES_" + k] for k in keys}


@pytest.fixture
def pg_env() -> Iterator[dict[str, str]]:
    schema = "cp_" + uuid.uuid4().hex[:12]
    with psycopg.connect(autocommit=True, **_pg_conninfo()) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    env = {k: v for k, v in os.environ.items() if k.startswith("POSTGRES_")}
    yield {**env, "PERSISTENCE_MODULE": "vmcore_event_store.postgres", "POSTGRES_SCHEMA": schema}
    with psycopg.connect(autocommit=True, **_pg_conninfo()) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.postgres
def test_sqlite_to_postgres_and_back(tmp_path: Path, pg_env: dict[str, str]) -> None:
    sqlite_env = _sqlite_env(tmp_path / "source.db")
    ids = _populate(sqlite_env, machines=7, starts=5)
    sqlite_store = Store.from_env(sqlite_env, name="Fleet")
    pg_store = Store.from_env(pg_env, name="Fleet")
    total = sqlite_store.events.max_notification_id() or 0

    remaining = _copy_resumed(sqlite_store, pg_store, interrupt_at=2, page_size=10)
    assert total - 20 == remaining
    report = verify_stores(sqlite_store, pg_store)
    assert (None, total) == (report.first_difference, report.events_compared)
    assert report.snapshots_compared > 0

    # The copy is a working store: the same aggregates come back, and new events continue
    # after the copied notification ids.
    app = Fleet(env=pg_env)
    original = Fleet(env=sqlite_env)
    for machine_id in ids:
        expected: Machine = original.repository.get(machine_id)
        actual: Machine = app.repository.get(machine_id)
        assert (expected.name, expected.starts, expected.version) == (
            actual.name, actual.starts, actual.version)
    machine: Machine = app.repository.get(ids[0])
    machine.start()
    assert [total + 1] == [recording.notification.id for recording in app.save(machine)]
    app.close()
    original.close()

    back_env = _sqlite_env(tmp_path / "back.db")
    back = Store.from_env(back_env, name="Fleet")
    assert total + 1 == copy_store(pg_store, back).events_copied
    assert verify_stores(pg_store, back).identical
    for store in (sqlite_store, pg_store, back):
        store.close()


@pytest.mark.postgres
def test_verify_names_the_first_difference(tmp_path: Path, pg_env: dict[str, str]) -> None:
    sqlite_env = _sqlite_env(tmp_path / "source.db")
    _populate(sqlite_env, machines=3, starts=2)
    source = Store.from_env(sqlite_env, name="Fleet")
    target = Store.from_env(pg_env, name="Fleet")
    copy_store(source, target)
    with psycopg.connect(autocommit=True, **_pg_conninfo()) as conn:
        conn.execute(
            f"UPDATE {pg_env['POSTGRES_SCHEMA']}.fleet_events SET state = 'x'::bytea "
            "WHERE notification_id = 5"
        )
    report = verify_stores(source, target)
    assert report.first_difference is not None
    assert report.first_difference.startswith("notification 5:")
    assert 4 == report.events_compared
    with pytest.raises(CopyError):  # resuming onto a diverged target is refused
        target_max = target.events.max_notification_id()
        with psycopg.connect(autocommit=True, **_pg_conninfo()) as conn:
            conn.execute(
                f"UPDATE {pg_env['POSTGRES_SCHEMA']}.fleet_events SET state = 'y'::bytea "
                "WHERE notification_id = %s",
                (target_max,),
            )
        copy_store(source, target)
    source.close()
    target.close()


@pytest.mark.postgres
def test_file_store_to_postgres_and_back(tmp_path: Path, pg_env: dict[str, str]) -> None:
    file_env = {
        "PERSISTENCE_MODULE": "vmcore_event_store.file",
        "VMCORE_FILE_STORE_PATH": str(tmp_path / "store"),
    }
    _populate(file_env, machines=5, starts=4)
    file_store = Store.from_env(file_env, name="Fleet")
    total = file_store.events.max_notification_id() or 0
    pg_store = Store.from_env(pg_env, name="Fleet")
    remaining = _copy_resumed(file_store, pg_store, interrupt_at=1, page_size=7)
    assert total - 7 == remaining
    assert verify_stores(file_store, pg_store).identical
    file_store.close()

    back = Store.from_env({**file_env, "VMCORE_FILE_STORE_PATH": str(tmp_path / "back")},
                          name="Fleet")
    assert total == copy_store(pg_store, back).events_copied
    report = verify_stores(pg_store, back)
    assert (None, total) == (report.first_difference, report.events_compared)
    assert report.snapshots_compared > 0
    back.close()
    pg_store.close()


@pytest.mark.postgres
def test_copy_killed_with_sigkill_resumes_where_it_stopped(
    tmp_path: Path, pg_env: dict[str, str]
) -> None:
    source_path = tmp_path / "source.db"
    _populate(_sqlite_env(source_path), machines=60, starts=4)
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("copy_child_proc.py")),
         str(source_path), pg_env["POSTGRES_SCHEMA"]],
        stdout=subprocess.PIPE, text=True, env={**os.environ, **pg_env},
    )
    assert child.stdout is not None
    reported = [int(child.stdout.readline()) for _ in range(20)]
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert -signal.SIGKILL == child.returncode

    source = Store.from_env(_sqlite_env(source_path), name="Fleet")
    target = Store.from_env(pg_env, name="Fleet")
    stored = target.events.max_notification_id() or 0
    assert stored >= reported[-1]  # every reported page is there (later ones may be too)
    total = source.events.max_notification_id() or 0
    assert stored < total  # killed mid-copy
    report = copy_store(source, target)
    assert (stored, total - stored) == (report.resumed_after, report.events_copied)
    assert verify_stores(source, target).identical
    source.close()
    target.close()
