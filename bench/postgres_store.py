"""vmcore's PostgreSQL recorder against eventsourcing's default recorder, side by side.

Run: ``.venv/bin/python -m bench.postgres_store [--quick] [--repeats N]``

Without POSTGRES_HOST / POSTGRES_DSN in the environment it re-executes itself under
``scripts/with-postgres``, which starts a throwaway PostgreSQL 15 on loopback. Both recorders
write to the same server (each in its own schema), workloads alternate between them, and the
figures are medians of the repeats; compare the ratios, not the absolute rates (the machine
is shared and noisy).

Workloads: 1 event per commit (one thread), 100 events per commit, 8 concurrent writer
*processes* each committing 1 event at a time, replay of a 10,000-event aggregate
(``select_events``), and a full notification-log read in pages of 500 (reads: best of 3
runs per sample). Each event's state is shaped like a vmcore event's (a timestamp and command
metadata), so vmcore's recorder pays for extracting and indexing its query fields.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

from vmcore.domain import VirtualMachine
from vmcore_event_store.postgres import VmcoreApplicationRecorder, environment_with_dsn

_ROOT = Path(__file__).resolve().parent.parent
RECORDERS: dict[str, type[PostgresApplicationRecorder]] = {
    "vmcore": VmcoreApplicationRecorder,
    "eventsourcing": PostgresApplicationRecorder,
}
_BARRIER_TIMEOUT = 300.0
_TOPIC = VirtualMachine.Started.bus_topic
_STATE = b'{"vcpus":2,"memory_mib":512,"kernel":"/boot/vmlinuz","tags":["bench"]}'
_COUNTER = itertools.count()


def _state(oid: uuid.UUID) -> bytes:
    """A state shaped like a vmcore event's: a timestamp and command metadata (the fields
    vmcore's recorder extracts for indexed queries), each event a new time."""
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=next(_COUNTER))
    return orjson.dumps({
        "timestamp": {"_type_": "datetime_iso", "_data_": moment.isoformat()},
        "meta": {"correlation_id": str(uuid.uuid4()), "causation_id": None,
                 "actor": "trn:user:alice", "source": None, "target": f"trn:vm:{oid}",
                 "tags": []},
        "vcpus": 2, "memory_mib": 512, "kernel": "/boot/vmlinuz",
    })


def _conninfo() -> dict[str, str]:
    env = environment_with_dsn(dict(os.environ))
    keys = ("DBNAME", "HOST", "PORT", "USER", "PASSWORD")
    return {k.lower(): str(env.get("POSTGRES_" + k, "")) for k in keys}


def _recorder(
    kind: str, schema: str, pool_size: int = 2, *, create: bool = True
) -> ApplicationRecorder:
    datastore = PostgresDatastore(schema=schema, pool_size=pool_size, **_conninfo())  # type: ignore[arg-type]
    recorder = RECORDERS[kind](datastore, events_table_name="events")
    if create:
        recorder.create_table()
    else:  # tables exist: only register the composite type eventsourcing's recorder uses
        datastore.register_type_adapters()
    return recorder


def _events(n: int, originator: uuid.UUID | None = None) -> list[StoredEvent]:
    oid = originator or uuid.uuid4()
    return [StoredEvent(oid, v, _TOPIC, _state(oid)) for v in range(1, n + 1)]


def _rate(count: int, func: Callable[[], None]) -> float:
    started = time.perf_counter()
    func()
    return count / (time.perf_counter() - started)


def one_per_commit(recorder: ApplicationRecorder, commits: int) -> float:
    def run() -> None:
        for _ in range(commits):
            recorder.insert_events(_events(1))

    return _rate(commits, run)


def bare_insert(schema: str, commits: int) -> float:
    """The ceiling: psycopg alone, one prepared 1-row INSERT per autocommit transaction."""
    statement = (
        f"INSERT INTO {schema}.events (originator_id, originator_version, topic, state) "
        "VALUES (%s, 1, 'vm.started', %s)"
    )
    with psycopg.connect(autocommit=True, **_conninfo()) as conn:  # type: ignore[arg-type]
        conn.execute(statement, (uuid.uuid4(), _STATE), prepare=True)

        def run() -> None:
            for _ in range(commits):
                conn.execute(statement, (uuid.uuid4(), _STATE), prepare=True)

        return _rate(commits, run)


def hundred_per_commit(recorder: ApplicationRecorder, commits: int) -> float:
    def run() -> None:
        for _ in range(commits):
            recorder.insert_events(_events(100))

    return _rate(commits * 100, run)


def _writer_process(kind: str, schema: str, commits: int, barrier: Any) -> None:
    # The parent created the tables: eventsourcing's create_table is not safe to run from
    # eight processes at once (concurrent CREATE OR REPLACE FUNCTION fails).
    recorder = _recorder(kind, schema, pool_size=1, create=False)
    recorder.insert_events(_events(1))  # warm the connection and prepared statements
    barrier.wait(timeout=_BARRIER_TIMEOUT)
    for _ in range(commits):
        recorder.insert_events(_events(1))
    barrier.wait(timeout=_BARRIER_TIMEOUT)


def eight_writers(kind: str, schema: str, commits: int) -> float:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(9)
    procs = [
        ctx.Process(target=_writer_process, args=(kind, schema, commits, barrier))
        for _ in range(8)
    ]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=_BARRIER_TIMEOUT)
    started = time.perf_counter()
    barrier.wait(timeout=_BARRIER_TIMEOUT)
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join()
    return 8 * commits / elapsed


def _best_of(runs: int, measure: Callable[[], float]) -> float:
    """Reads are short: the best of a few runs filters out scheduler hiccups."""
    return max(measure() for _ in range(runs))


def replay(recorder: ApplicationRecorder, originator: uuid.UUID, length: int) -> float:
    return _best_of(3, lambda: _rate(
        length, lambda: _check(length, len(recorder.select_events(originator)))))


def read_log(recorder: ApplicationRecorder, total: int) -> float:
    def run() -> None:
        seen, last = 0, 0
        while page := recorder.select_notifications(last, 500, inclusive_of_start=False):
            seen += len(page)
            last = page[-1].id
        _check(total, seen)

    return _best_of(3, lambda: _rate(total, run))


def _check(expected: int, actual: int) -> None:
    if expected != actual:
        raise RuntimeError(f"expected {expected}, got {actual}")


def _schema(kind: str, label: str) -> str:
    name = f"bench_{kind}_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(autocommit=True, **_conninfo()) as conn:  # type: ignore[arg-type]
        conn.execute(f"CREATE SCHEMA {name}")
    return name


def _drop(schema: str) -> None:
    with psycopg.connect(autocommit=True, **_conninfo()) as conn:  # type: ignore[arg-type]
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _prepare_read_data(recorder: ApplicationRecorder, replay_len: int, log_len: int) -> uuid.UUID:
    vm = uuid.uuid4()
    for start in range(0, replay_len, 1000):
        count = min(1000, replay_len - start)
        recorder.insert_events(
            [StoredEvent(vm, start + v, _TOPIC, _state(vm)) for v in range(1, count + 1)]
        )
    while (recorder.max_notification_id() or 0) < log_len:
        recorder.insert_events(_events(500))
    return vm


def _workloads(
    recorders: dict[str, ApplicationRecorder], schemas: dict[str, str], sizes: dict[str, int]
) -> dict[str, Callable[[str], float]]:
    vms = {k: _prepare_read_data(r, sizes["replay"], sizes["log"]) for k, r in recorders.items()}
    return {
        "1 event/commit": lambda k: one_per_commit(recorders[k], sizes["one"]),
        "100 events/commit": lambda k: hundred_per_commit(recorders[k], sizes["hundred"]),
        f"replay {sizes['replay']}-event aggregate": lambda k: replay(
            recorders[k], vms[k], sizes["replay"]),
        "notification-log read (pages of 500)": lambda k: read_log(
            recorders[k], len(recorders[k].select_notifications(0, 10**9))),
        "8 writer processes, 1 event/commit": lambda k: eight_writers(
            k, schemas[k], sizes["writers"]),
    }


def _repeat(kinds: list[str], sizes: dict[str, int], warm: bool,
            results: dict[str, dict[str, list[float]]]) -> None:
    schemas = {kind: _schema(kind, "w") for kind in kinds}
    try:
        recorders = {kind: _recorder(kind, schemas[kind]) for kind in kinds}
        for name, workload in _workloads(recorders, schemas, sizes).items():
            if warm and "writer" not in name:
                for kind in kinds:
                    workload(kind)  # warm-up: plans, prepared statements, caches
            for kind in kinds:
                results[kind].setdefault(name, []).append(workload(kind))
            if name == "1 event/commit":
                results.setdefault("bare", {}).setdefault(name, []).append(
                    bare_insert(schemas[kinds[0]], sizes["one"]))
        for recorder in recorders.values():
            recorder.datastore.close()  # type: ignore[attr-defined]
    finally:
        for schema in schemas.values():
            _drop(schema)


def run(quick: bool, repeats: int) -> dict[str, dict[str, list[float]]]:
    """Each workload runs for both recorders back to back (order alternating by repeat)."""
    sizes = {"one": 60, "hundred": 10, "writers": 25, "replay": 2_000, "log": 5_000}
    if not quick:
        sizes = {"one": 400, "hundred": 50, "writers": 120, "replay": 10_000, "log": 20_000}
    results: dict[str, dict[str, list[float]]] = {kind: {} for kind in RECORDERS}
    for repeat in range(repeats):
        kinds = list(RECORDERS) if repeat % 2 == 0 else list(reversed(RECORDERS))
        _repeat(kinds, sizes, repeat == 0, results)
    return results


def report(results: dict[str, dict[str, list[float]]]) -> str:
    ours, peer = results["vmcore"], results["eventsourcing"]
    lines = [
        f"{'workload':<42} {'vmcore/s':>11} {'eventsourcing/s':>16} {'ratio':>7}",
    ]
    for name in ours:
        a, b = statistics.median(ours[name]), statistics.median(peer[name])
        lines.append(f"{name:<42} {a:>11,.0f} {b:>16,.0f} {a / b:>6.2f}x")
    if "bare" in results:
        bare = statistics.median(results["bare"]["1 event/commit"])
        a = statistics.median(ours["1 event/commit"])
        b = statistics.median(peer["1 event/commit"])
        lines.append(
            f"bare psycopg 1-row INSERT + commit (the disk's ceiling): {bare:,.0f}/s; "
            f"vmcore reaches {a / bare:.0%} of it, eventsourcing {b / bare:.0%}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced run of a few seconds")
    parser.add_argument("--repeats", type=int, default=None, help="repeats (median)")
    args = parser.parse_args(argv)
    if not any(os.environ.get(k) for k in ("POSTGRES_HOST", "POSTGRES_DSN",
                                           "VMCORE_POSTGRES_DSN")):
        script = str(_ROOT / "scripts" / "with-postgres")
        command = [script, sys.executable, "-m", "bench.postgres_store", *sys.argv[1:]]
        os.chdir(_ROOT)
        os.execv(script, command)
    repeats = args.repeats or (1 if args.quick else 5)
    print(f"PostgreSQL recorders, median of {repeats} (events/s; ratio = vmcore / default)")
    print(report(run(args.quick, repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
