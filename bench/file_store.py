"""The file store against eventsourcing's SQLite module and the disk's raw fdatasync rate.

Run: ``.venv/bin/python -m bench.file_store [--quick] [--repeats N] [--dir PATH]``

Everything runs in one process on the same disk (a temporary directory under ``--dir``,
default the system temp dir), workloads alternate between the stores and each figure is the
median of the repeats. Compare the ratios, not the absolute rates: the machine is shared.

Workloads: 1 event per durable commit; 100 events per commit; 8 writer threads (file store
with group commit vs the single-writer rate); replay of a 10,000-event aggregate
(``select_events`` and ``Application.repository.get``); ``get`` with a snapshot; reading the
whole notification log in pages of 500.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

_STATE = b'{"vcpus":2,"memory_mib":512,"kernel":"/boot/vmlinuz","tags":["bench"]}'
_TOPIC = "vmcore.domain:VirtualMachine.Started"
_ORJSON = "vmcore_event_store.transcoder:OrjsonTranscoder"


def _env(kind: str, root: str, **extra: str) -> dict[str, str]:
    path = os.path.join(root, f"{kind}-{uuid.uuid4().hex[:8]}")
    if kind == "sqlite":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path + ".db"}
    policy = kind.split("-", 1)[1] if "-" in kind else "always"
    return {
        "PERSISTENCE_MODULE": "vmcore_event_store.file",
        "VMCORE_FILE_STORE_PATH": path,
        "VMCORE_FSYNC": policy,
        **extra,
    }


@contextmanager
def _recorder(kind: str, root: str) -> Iterator[ApplicationRecorder]:
    factory = InfrastructureFactory.construct(Environment(env=_env(kind, root)))
    try:
        yield factory.application_recorder()
    finally:
        factory.close()


def _events(n: int, oid: uuid.UUID | None = None) -> list[StoredEvent]:
    oid = oid or uuid.uuid4()
    return [StoredEvent(oid, v, _TOPIC, _STATE) for v in range(1, n + 1)]


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


class _Writer:
    """One contender: a store (or the raw file) that can make ``count`` commits on demand."""

    def __init__(self, kind: str, root: str, per_commit: int = 1, threads: int = 1) -> None:
        self.kind, self.per_commit, self.threads = kind, per_commit, threads
        self.seconds = 0.0
        self.events = 0
        if kind == "raw":
            self._fd = os.open(
                os.path.join(root, f"raw-{uuid.uuid4().hex[:8]}"), os.O_RDWR | os.O_CREAT, 0o644
            )
            self._offset = 0
            self._record = b"x" * (16 + 8 + 16 + len(_TOPIC) + len(_STATE))
            return
        self._factory = InfrastructureFactory.construct(Environment(env=_env(kind, root)))
        self._recorder = self._factory.application_recorder()
        self._recorder.insert_events(_events(1))  # warm up: file creation, lock, tables

    def _commit(self, count: int) -> None:
        if self.kind == "raw":
            for _ in range(count):
                self._offset += os.pwrite(self._fd, self._record, self._offset)
                os.fdatasync(self._fd)
            return
        for _ in range(count):
            self._recorder.insert_events(_events(self.per_commit))

    def run(self, count: int) -> None:
        """Makes ``count`` commits per thread and adds the elapsed time to the tally."""
        workers = [
            threading.Thread(target=self._commit, args=(count,)) for _ in range(self.threads)
        ]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        self.seconds += time.perf_counter() - started
        self.events += count * self.threads * self.per_commit

    def rate(self) -> float:
        return _rate(self.events, self.seconds)

    def close(self) -> None:
        if self.kind == "raw":
            os.close(self._fd)
        else:
            self._factory.close()


def interleaved(
    root: str, specs: list[tuple[str, int, int]], total: int, chunk: int
) -> list[float]:
    """Events/s per ``(kind, events per commit, threads)``, run in alternating chunks.

    Each contender makes ``chunk`` commits (per thread) in turn until each has made
    ``total``: load that drifts during the run hits every contender alike.
    """
    writers = [_Writer(kind, root, per_commit, threads) for kind, per_commit, threads in specs]
    try:
        for _ in range(max(1, total // chunk)):
            for writer in writers:
                writer.run(chunk)
        return [writer.rate() for writer in writers]
    finally:
        for writer in writers:
            writer.close()


class _Vm(Aggregate):
    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.ticks = 0

    @event("Ticked")
    def tick(self, note: str) -> None:
        self.ticks += 1


class _Vms(Application[uuid.UUID]):
    is_snapshotting_enabled = True


def _app(kind: str, root: str) -> _Vms:
    env = _env(kind, root)
    if kind != "sqlite":
        env["TRANSCODER_TOPIC"] = _ORJSON
    return _Vms(env=env)


def replay(kind: str, root: str, n: int) -> dict[str, float]:
    """Replay of an ``n``-event aggregate: raw select, full get, get after a snapshot."""
    app = _app(kind, root)
    try:
        vm = _Vm("bench")
        for i in range(n - 1):
            vm.tick(f"t{i}")
            if (i + 1) % 1000 == 0:
                app.save(vm)
        app.save(vm)
        recorder = app.recorder
        started = time.perf_counter()
        assert len(recorder.select_events(vm.id)) == n
        select = _rate(n, time.perf_counter() - started)
        started = time.perf_counter()
        assert app.repository.get(vm.id).ticks == n - 1
        get = _rate(n, time.perf_counter() - started)
        app.take_snapshot(vm.id)
        app.repository.get(vm.id)
        rounds = 200
        started = time.perf_counter()
        for _ in range(rounds):
            app.repository.get(vm.id)
        snap_ms = 1000 * (time.perf_counter() - started) / rounds
        started = time.perf_counter()
        seen, last = 0, 0
        while page := recorder.select_notifications(last, 500, inclusive_of_start=False):
            seen += len(page)
            last = page[-1].id
        assert seen == n
        notif = _rate(n, time.perf_counter() - started)
    finally:
        app.close()
    return {"select": select, "get": get, "snap_ms": snap_ms, "notif": notif}


def _median(runs: list[Callable[[], Any]], repeats: int) -> list[Any]:
    """Runs the callables alternately ``repeats`` times; medians per callable."""
    results: list[list[Any]] = [[] for _ in runs]
    for _ in range(repeats):
        for i, run in enumerate(runs):
            results[i].append(run())
    out: list[Any] = []
    for values in results:
        if isinstance(values[0], dict):
            out.append({k: statistics.median(v[k] for v in values) for k in values[0]})
        elif isinstance(values[0], list):
            out.append([statistics.median(column) for column in zip(*values, strict=True)])
        else:
            out.append(statistics.median(values))
    return out


def _sqlite_synchronous(root: str) -> str:
    with _recorder("sqlite", root):
        pass
    conn = sqlite3.connect(os.path.join(root, "probe.db"))
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        level = conn.execute("PRAGMA synchronous").fetchone()[0]
    finally:
        conn.close()
    return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(level, str(level))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--dir", default=None, help="directory on the disk to measure")
    args = parser.parse_args(argv)
    quick = args.quick
    repeats = args.repeats or (1 if quick else 5)
    n1 = 100 if quick else 2000
    n100 = 5 if quick else 100
    n8 = 20 if quick else 300
    n_replay = 1000 if quick else 10_000
    root = tempfile.mkdtemp(prefix="vmcore-bench-file-", dir=args.dir)
    try:
        print(
            f"disk: {root}; repeats: {repeats}; SQLite: WAL, synchronous="
            f"{_sqlite_synchronous(root)} (eventsourcing's configuration)"
        )
        one = _median(
            [
                lambda: interleaved(
                    root,
                    [
                        ("file", 1, 1),
                        ("sqlite", 1, 1),
                        ("raw", 1, 1),
                        ("file-group", 1, 1),
                        ("file-none", 1, 1),
                    ],
                    n1,
                    50,
                )
            ],
            repeats,
        )[0]
        hundred = _median(
            [lambda: interleaved(root, [("file", 100, 1), ("sqlite", 100, 1)], n100, 5)],
            repeats,
        )[0]
        eight = _median(
            [
                lambda: interleaved(
                    root,
                    [("file-group", 1, 8), ("file", 1, 8), ("sqlite", 1, 8), ("file", 1, 1)],
                    n8,
                    10,
                )
            ],
            repeats,
        )[0]
        rep = _median(
            [lambda: replay("file", root, n_replay), lambda: replay("sqlite", root, n_replay)],
            max(1, repeats - 2),
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    file1, sqlite1, raw1, group1, none1 = one
    rows = [
        (
            "1 event/commit, events/s",
            file1,
            sqlite1,
            f"{file1 / sqlite1:.2f}x SQLite; "
            f"{file1 / raw1:.2f}x raw fdatasync ({raw1:,.0f}/s); group policy 1 writer "
            f"{group1:,.0f}",
        ),
        (
            "1 event/commit, VMCORE_FSYNC=none, events/s",
            none1,
            float("nan"),
            f"CPU cost per commit {1e6 / none1:.0f} us vs {1e6 / raw1:.0f} us per raw fdatasync",
        ),
        ("100 events/commit, events/s", hundred[0], hundred[1], f"{hundred[0] / hundred[1]:.2f}x"),
        (
            "8 writer threads, events/s",
            eight[0],
            eight[2],
            f"group {eight[0] / eight[3]:.2f}x the "
            f"single-writer rate ({eight[3]:,.0f}); always-policy 8 threads {eight[1]:,.0f}",
        ),
        (
            f"replay select_events {n_replay:,}, events/s",
            rep[0]["select"],
            rep[1]["select"],
            f"{rep[0]['select'] / rep[1]['select']:.2f}x",
        ),
        (
            f"replay repository.get {n_replay:,}, events/s",
            rep[0]["get"],
            rep[1]["get"],
            f"{rep[0]['get'] / rep[1]['get']:.2f}x (orjson vs JSON transcoder)",
        ),
        (
            "get with snapshot (0 after), ms",
            rep[0]["snap_ms"],
            rep[1]["snap_ms"],
            f"{rep[1]['snap_ms'] / rep[0]['snap_ms']:.2f}x faster",
        ),
        (
            "notification log read, notif/s",
            rep[0]["notif"],
            rep[1]["notif"],
            f"{rep[0]['notif'] / rep[1]['notif']:.2f}x",
        ),
    ]
    print(f"{'workload':44} {'file store':>12} {'SQLite':>12}  ratio")
    for name, ours, peer, ratio in rows:
        print(f"{name:44} {ours:12,.1f} {peer:12,.1f}  {ratio}")


if __name__ == "__main__":
    main()
