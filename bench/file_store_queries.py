"""Indexed event queries on the file store against a topic-filtered scan on SQLite.

Run: ``.venv/bin/python -m bench.file_store_queries [--quick] [--events N] [--dir PATH]``

Both stores get the same N events (default 1,000,000; ``--quick`` 20,000) of 10,000
aggregates, five topics, states shaped like vmcore's (``timestamp`` and ``meta``). The query
is ``vmcore events --topic vm.paused --since T --limit 100`` with T at 90% of the log:

- file store: ``query_notifications(topics=[paused], since=T, limit=100)`` (the index);
- SQLite (eventsourcing's module, which has no such query): what the ControlPlane does there,
  ``select_notifications`` pages filtered by topic, decoding each state to check its time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

_TOPICS = [f"vmcore.domain.events:{name}" for name in
           ("Created", "Started", "Paused", "Resumed", "Stopped")]
_PAUSED = _TOPICS[2]
_T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _state(i: int) -> bytes:
    moment = _T0 + timedelta(seconds=i)
    return orjson.dumps({
        "timestamp": {"_type_": "datetime_iso", "_data_": moment.isoformat()},
        "meta": {"correlation_id": f"c{i % 5000}", "actor": "trn:user:alice",
                 "source": None, "target": f"trn:vm:vm-{i % 10_000}"},
        "reason": "user",
    })


def _factory(kind: str, path: str) -> Any:
    env = ({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path + ".db"}
           if kind == "sqlite" else
           {"PERSISTENCE_MODULE": "vmcore_event_store.file", "VMCORE_FILE_STORE_PATH": path,
            "VMCORE_FSYNC": "none"})
    return InfrastructureFactory.construct(Environment(env=env))


def _fill(kind: str, path: str, events: int) -> None:
    factory = _factory(kind, path)
    recorder = factory.application_recorder()
    oids = [uuid.uuid4() for _ in range(10_000)]
    versions = dict.fromkeys(oids, 0)
    batch: list[StoredEvent] = []
    for i in range(events):
        oid = oids[(i // 100) % len(oids)]
        versions[oid] += 1
        batch.append(StoredEvent(oid, versions[oid], _TOPICS[i % 5], _state(i)))
        if len(batch) == 100:
            recorder.insert_events(batch)
            batch = []
    if batch:
        recorder.insert_events(batch)
    factory.close()


def _scan(recorder: Any, since: datetime, limit: int) -> int:
    """The ControlPlane's path on a store without indexed queries."""
    found, start = 0, 1
    while found < limit:
        page = recorder.select_notifications(start, 500, topics=[_PAUSED])
        for n in page:
            stamp = orjson.loads(n.state)["timestamp"]["_data_"]
            if datetime.fromisoformat(stamp) >= since:
                found += 1
                if found == limit:
                    break
        if len(page) < 500:
            break
        start = page[-1].id + 1
    return found


def measure(kind: str, path: str, since: datetime, repeats: int) -> list[float]:
    factory = _factory(kind, path)
    try:
        recorder = factory.application_recorder()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            if kind == "file":
                found = len(recorder.query_notifications(topics=[_PAUSED], since=since,
                                                         limit=100))
            else:
                found = _scan(recorder, since, 100)
            times.append(time.perf_counter() - started)
            assert found == 100, found
        return sorted(1000 * t for t in times)
    finally:
        factory.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args(argv)
    events = args.events or (20_000 if args.quick else 1_000_000)
    since = _T0 + timedelta(seconds=int(events * 0.9))
    root = tempfile.mkdtemp(prefix="vmcore-bench-queries-", dir=args.dir)
    try:
        results = {}
        for kind in ("file", "sqlite"):
            path = os.path.join(root, kind)
            _fill(kind, path, events)
            results[kind] = measure(kind, path, since, 1 if args.quick else 5)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    file, peer = results["file"], results["sqlite"]
    print(f"events --topic vm.paused --since T --limit 100 over {events:,} events, ms"
          f" (min / median / max of {len(file)} queries on the store opened once)")
    print(f"  file store (index): {file[0]:.2f} / {statistics.median(file):.2f} / {file[-1]:.2f}")
    print(f"  SQLite (topic scan): {peer[0]:.2f} / {statistics.median(peer):.2f} / {peer[-1]:.2f}")
    print(f"  ratio of medians: {statistics.median(peer) / statistics.median(file):.0f}x faster")


if __name__ == "__main__":
    main()
