"""Indexed ``events`` queries on PostgreSQL against the same queries without the indexes.

Run: ``.venv/bin/python -m bench.postgres_queries [--quick] [--events N] [--repeats N]``

Without POSTGRES_HOST / POSTGRES_DSN it re-executes itself under ``scripts/with-postgres``
(a throwaway PostgreSQL 15 on loopback). One table of vmcore's recorder is filled in bulk
(``COPY``, derived columns included, then ``ANALYZE``) with N events (default 1,000,000;
``--quick`` 20,000) of 10,000 aggregates, five topics and states shaped like vmcore's, as
``bench.file_store_queries`` does. Each query shape of ``vmcore events`` (first page of 100)
is timed three ways on that one table:

- **indexed**: ``VmcoreApplicationRecorder.query_notifications`` (its indexes);
- **no index**: the very same SQL with index and bitmap scans disabled for the session, so
  PostgreSQL must read the table (what the query costs without the indexes);
- **scan**: what ``ControlPlane.query_events`` did on PostgreSQL before the indexes: pages of
  500 from ``select_notifications`` (filtered by topic when the query has one), each state
  decoded in Python and checked.
"""

from __future__ import annotations

import argparse
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
from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Identifier

from vmcore_event_store.event_fields import extract
from vmcore_event_store.postgres import VmcoreApplicationRecorder, environment_with_dsn
from vmcore_event_store.postgres.event_queries import query_statement

_ROOT = Path(__file__).resolve().parent.parent
_TOPICS = [f"vmcore.domain.events:{name}" for name in
           ("Created", "Started", "Paused", "Resumed", "Stopped")]
_PAUSED = _TOPICS[2]
_T0 = datetime(2026, 1, 1, tzinfo=UTC)
_VMS = 10_000
_COLUMNS = ("originator_id, originator_version, topic, state, vmcore_ts, vmcore_correlation, "
            "vmcore_actor, vmcore_source, vmcore_target, vmcore_fields")


def _conninfo() -> dict[str, str]:
    env = environment_with_dsn(dict(os.environ))
    keys = ("DBNAME", "HOST", "PORT", "USER", "PASSWORD")
    return {k.lower(): str(env.get("POSTGRES_" + k, "")) for k in keys}


def _state(i: int) -> bytes:
    moment = _T0 + timedelta(seconds=i)
    return orjson.dumps({
        "timestamp": {"_type_": "datetime_iso", "_data_": moment.isoformat()},
        "meta": {"correlation_id": f"c{i % 5000}", "actor": "trn:user:alice",
                 "source": None, "target": f"trn:vm:vm-{i % _VMS}"},
        "reason": "user",
    })


def _fill(schema: str, events: int) -> None:
    """COPY the events straight into the table (vmcore's recorder computes the same derived
    columns through ``event_fields.extract``; so does this)."""
    oids = [uuid.UUID(int=n + 1) for n in range(_VMS)]
    versions = dict.fromkeys(oids, 0)
    copy = SQL("COPY {schema}.events (" + _COLUMNS + ") FROM STDIN").format(
        schema=Identifier(schema))
    with psycopg.connect(**_conninfo()) as conn:  # type: ignore[arg-type]
        with conn.cursor() as curs, curs.copy(copy) as sink:
            for i in range(events):
                oid = oids[(i // 100) % _VMS]
                versions[oid] += 1
                state = _state(i)
                f = extract(state)
                sink.write_row((oid, versions[oid], _TOPICS[i % 5], state, f.moment,
                                f.correlation, f.actor, f.source, f.target, 1))
        conn.commit()
        conn.autocommit = True
        conn.execute(SQL("ANALYZE {schema}.events").format(schema=Identifier(schema)))


def _shapes(events: int) -> dict[str, dict[str, Any]]:
    """``vmcore events`` options -> the recorder query (T at 90% of the log)."""
    since = _T0 + timedelta(seconds=int(events * 0.9))
    return {
        "--topic vm.paused --since T": {"topics": [_PAUSED], "since": since},
        "--topic vm.paused": {"topics": [_PAUSED]},
        "--topic 'vm.*'": {"topics": list(_TOPICS)},
        "--since T": {"since": since},
        "--since T --until T+60s": {"since": since, "until": since + timedelta(seconds=60)},
        "--correlation c4999": {"correlation_id": "c4999"},
        "--trn trn:vm:vm-9999": {"trn_prefix": "trn:vm:vm-9999"},
        "one VM (recorder only)": {"originator_id": uuid.UUID(int=_VMS)},
    }


def _matches(criteria: dict[str, Any], n: Any) -> bool:
    data = orjson.loads(n.state)
    moment = datetime.fromisoformat(data["timestamp"]["_data_"])
    meta = data["meta"]
    prefix = criteria.get("trn_prefix")
    return (("since" not in criteria or moment >= criteria["since"])
            and ("until" not in criteria or moment <= criteria["until"])
            and ("correlation_id" not in criteria
                 or meta["correlation_id"] == criteria["correlation_id"])
            and ("originator_id" not in criteria or n.originator_id == criteria["originator_id"])
            and (prefix is None or any(isinstance(v, str) and v.startswith(prefix)
                                       for v in (meta["actor"], meta["source"], meta["target"]))))


def _scan(recorder: VmcoreApplicationRecorder, criteria: dict[str, Any], limit: int) -> int:
    """The ControlPlane's path on a store without indexed queries."""
    found, start = 0, 1
    while True:
        page = recorder.select_notifications(start, 500, topics=criteria.get("topics", ()))
        for n in page:
            if _matches(criteria, n):
                found += 1
                if found == limit:
                    return found
        if len(page) < 500:
            return found
        start = page[-1].id + 1


def _no_index(schema: str, criteria: dict[str, Any], repeats: int, expected: int) -> list[float]:
    """The same SQL as the indexed query, planned with index and bitmap scans disabled."""
    query = query_statement(schema, "events", "uuid", upper=2**62, start=1, limit=100,
                            **criteria)
    assert query is not None
    times = []
    with psycopg.connect(autocommit=True, **_conninfo()) as conn:  # type: ignore[arg-type]
        for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
            conn.execute(f"SET {setting} = off")
        for _ in range(repeats):
            started = time.perf_counter()
            found = len(conn.execute(query[0], query[1]).fetchall())
            times.append(1000 * (time.perf_counter() - started))
            if found != expected:
                raise RuntimeError(f"expected {expected} events, found {found}")
    return sorted(times)


def _times(repeats: int, run: Callable[[], int], expected: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        found = run()
        times.append(1000 * (time.perf_counter() - started))
        if found != expected:
            raise RuntimeError(f"expected {expected} events, found {found}")
    return sorted(times)


def measure(schema: str, events: int, repeats: int) -> dict[str, dict[str, list[float]]]:
    datastore = PostgresDatastore(schema=schema, pool_size=2, **_conninfo())  # type: ignore[arg-type]
    recorder = VmcoreApplicationRecorder(datastore, events_table_name="events")
    results: dict[str, dict[str, list[float]]] = {}
    try:
        for name, criteria in _shapes(events).items():
            expected = len(recorder.query_notifications(limit=100, **criteria))
            indexed = _times(repeats, lambda c=criteria: len(  # type: ignore[misc]
                recorder.query_notifications(limit=100, **c)), expected)
            results[name] = {"indexed": indexed,
                             "no index": _no_index(schema, criteria, max(1, repeats // 2),
                                                   expected)}
            if "originator_id" not in criteria:
                results[name]["scan"] = _times(max(1, repeats // 3), lambda c=criteria: _scan(  # type: ignore[misc]
                    recorder, c, 100), expected)
    finally:
        datastore.close()
    return results


def _cell(times: list[float] | None) -> str:
    if not times:
        return "-"
    return f"{times[0]:.1f}/{statistics.median(times):.1f}/{times[-1]:.1f}"


def report(results: dict[str, dict[str, list[float]]]) -> str:
    lines = [f"{'events ... --limit 100':<30} {'indexed ms':>18} {'no index ms':>22}"
             f" {'ratio':>7} {'scan ms':>22} {'ratio':>7}"]
    for name, row in results.items():
        ours = statistics.median(row["indexed"])
        bare = statistics.median(row["no index"])
        scan = row.get("scan")
        scan_ratio = f"{statistics.median(scan) / ours:>6.0f}x" if scan else f"{'-':>7}"
        lines.append(f"{name:<30} {_cell(row['indexed']):>18} {_cell(row['no index']):>22}"
                     f" {bare / ours:>6.0f}x {_cell(scan):>22} {scan_ratio}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 events, one query each")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    if not any(os.environ.get(k) for k in ("POSTGRES_HOST", "POSTGRES_DSN",
                                           "VMCORE_POSTGRES_DSN")):
        script = str(_ROOT / "scripts" / "with-postgres")
        command = [script, sys.executable, "-m", "bench.postgres_queries", *sys.argv[1:]]
        os.chdir(_ROOT)
        os.execv(script, command)
    events = args.events or (20_000 if args.quick else 1_000_000)
    repeats = args.repeats or (1 if args.quick else 6)
    schema = f"bench_queries_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(autocommit=True, **_conninfo()) as conn:  # type: ignore[arg-type]
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        datastore = PostgresDatastore(schema=schema, pool_size=1, **_conninfo())  # type: ignore[arg-type]
        VmcoreApplicationRecorder(datastore, events_table_name="events").create_table()
        datastore.close()
        started = time.perf_counter()
        _fill(schema, events)
        print(f"filled {events:,} events with COPY + ANALYZE in "
              f"{time.perf_counter() - started:.0f} s; load average {_loadavg()}")
        results = measure(schema, events, repeats)
    finally:
        with psycopg.connect(autocommit=True, **_conninfo()) as conn:  # type: ignore[arg-type]
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    print(f"first page (100) of `vmcore events` over {events:,} events on PostgreSQL, ms as"
          f" min/median/max (indexed: {repeats} queries); ratio = median / indexed median")
    print(report(results))
    print(f"load average at the end: {_loadavg()}")
    return 0


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
