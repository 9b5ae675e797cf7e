"""Eight writer processes race on PostgreSQL while readers tail the notification log.

* Same VM: all eight try to record every version of one VM; for each version exactly one
  wins, the other seven get IntegrityError, and the stored row names the winner.
* Different VMs: each writer records its own VM; nobody conflicts and nothing is lost.
* Throughout, a polling reader and a ``subscribe()`` reader record every notification id
  they see; afterwards both saw exactly the ids in the table, in strictly increasing order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import ApplicationRecorder

from vmcore_event_store.postgres import Factory

pytestmark = pytest.mark.postgres

WRITERS = 8
VERSIONS = 40
_WRITER_SCRIPT = Path(__file__).with_name("pg_writer_proc.py")


def _conninfo() -> dict[str, Any]:
    return {
        "dbname": os.environ["POSTGRES_DBNAME"],
        "host": os.environ["POSTGRES_HOST"],
        "port": os.environ["POSTGRES_PORT"],
        "user": os.environ["POSTGRES_USER"],
        "password": os.environ["POSTGRES_PASSWORD"],
    }


@pytest.fixture
def schema() -> Iterator[str]:
    name = "c_" + uuid.uuid4().hex[:12]
    with psycopg.connect(autocommit=True, **_conninfo()) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    yield name
    with psycopg.connect(autocommit=True, **_conninfo()) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


class _TailingReader(threading.Thread):
    """Reads the notification log after the last id it saw until told the writers are done."""

    def __init__(self, recorder: ApplicationRecorder, writers_done: threading.Event) -> None:
        super().__init__(daemon=True)
        self.recorder = recorder
        self.writers_done = writers_done
        self.seen: list[int] = []

    def run(self) -> None:
        last = 0
        while True:
            done = self.writers_done.is_set()  # read before the page: a final full pass
            page = self.recorder.select_notifications(
                start=last, limit=37, inclusive_of_start=False
            )
            self.seen.extend(n.id for n in page)
            if page:
                last = page[-1].id
            elif done:
                return


class _SubscriptionReader(threading.Thread):
    def __init__(self, recorder: ApplicationRecorder) -> None:
        super().__init__(daemon=True)
        self.subscription = recorder.subscribe(gt=0)
        self.seen: list[int] = []
        self.stop_after: int | None = None
        self.reached = threading.Event()

    def run(self) -> None:
        with self.subscription as subscription:
            for notification in subscription:
                self.seen.append(notification.id)
                if notification.id == self.stop_after:
                    self.reached.set()
                    return


def _start_writers(
    schema: str, assignments: list[list[str]], versions: int
) -> list[subprocess.Popen[str]]:
    env = dict(os.environ, POSTGRES_SCHEMA=schema)
    procs = [
        subprocess.Popen(
            [sys.executable, str(_WRITER_SCRIPT), f"w{i}", str(versions), *vm_ids],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for i, vm_ids in enumerate(assignments)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert "ready" == proc.stdout.readline().strip()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return procs


def _results(procs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=240)
        assert 0 == proc.returncode
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _table(schema: str) -> list[tuple[int, str, int, bytes]]:
    with psycopg.connect(**_conninfo()) as conn:
        rows = conn.execute(
            f"SELECT notification_id, originator_id::text, originator_version, state "
            f"FROM {schema}.stored_events ORDER BY notification_id"
        ).fetchall()
    return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]


def _race(
    schema: str, assignments: list[list[str]], versions: int = VERSIONS
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Runs the writers with both readers tailing; checks the readers saw every id in order."""
    with Factory({**os.environ, "POSTGRES_SCHEMA": schema}) as factory:
        recorder = factory.application_recorder()
        writers_done = threading.Event()
        tailer = _TailingReader(recorder, writers_done)
        subscriber = _SubscriptionReader(recorder)
        tailer.start()
        subscriber.start()
        results = _results(_start_writers(schema, assignments, versions))
        writers_done.set()
        tailer.join(timeout=120)
        table = _table(schema)
        subscriber.stop_after = table[-1][0]
        if subscriber.stop_after in subscriber.seen:
            subscriber.reached.set()
        subscriber.reached.wait(timeout=120)
        subscriber.subscription.stop()
        subscriber.join(timeout=30)

    expected_ids = [row[0] for row in table]
    assert expected_ids == tailer.seen
    assert expected_ids == subscriber.seen
    assert all(a < b for a, b in zip(tailer.seen, tailer.seen[1:], strict=False))
    for result in results:
        assert [] == result["errors"]
    return results, table


def test_eight_writers_on_the_same_vm(schema: str) -> None:
    _check_same_vm(schema, VERSIONS)


@pytest.mark.soak
def test_eight_writers_on_the_same_vm_soak(schema: str) -> None:
    _check_same_vm(schema, 600)


def _check_same_vm(schema: str, versions: int) -> None:
    vm_id = str(uuid.uuid4())
    results, table = _race(schema, [[vm_id]] * WRITERS, versions)

    winners: dict[int, list[str]] = {}
    for result in results:
        for _, version in result["won"]:
            winners.setdefault(version, []).append(result["name"])
    assert {v: 1 for v in range(1, versions + 1)} == {v: len(w) for v, w in winners.items()}
    assert versions * (WRITERS - 1) == sum(len(r["lost"]) for r in results)
    for result in results:  # each writer either won or lost every version, never both
        decided = sorted(v for _, v in result["won"] + result["lost"])
        assert list(range(1, versions + 1)) == decided
    stored = {version: state.decode() for _, _, version, state in table}
    assert {v: w[0] for v, w in winners.items()} == stored


def test_eight_writers_on_different_vms(schema: str) -> None:
    _check_different_vms(schema, VERSIONS)


@pytest.mark.soak
def test_eight_writers_on_different_vms_soak(schema: str) -> None:
    _check_different_vms(schema, 600)


def _check_different_vms(schema: str, versions: int) -> None:
    vm_ids = [str(uuid.uuid4()) for _ in range(WRITERS)]
    results, table = _race(schema, [[vm_id] for vm_id in vm_ids], versions)

    for vm_id, result in zip(vm_ids, results, strict=True):
        assert [[vm_id, v] for v in range(1, versions + 1)] == result["won"]
        assert [] == result["lost"]
    assert WRITERS * versions == len(table)
