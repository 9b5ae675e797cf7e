"""The file store at scale and shared by processes, against eventsourcing's SQLite module.

Run: ``.venv/bin/python -m bench.file_store_scale [--quick] [--events N] [--dir PATH]``

Workloads (file store and SQLite side by side in one run; compare the ratios):

- open a store of N events (default 1,000,000; ``--quick`` 10,000) in a fresh process and
  read one aggregate: wall time from the open call and the process's peak RSS;
- 8 writer processes on different aggregates, every commit durable (file ``always``;
  SQLite as eventsourcing configures it), events/s over all processes;
- 8 writer threads in one process vs one writer, file store ``always``.

``vm show`` and ``vm list`` at scale are in ``bench.vm_reads``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from bench._report import Row, load_average, print_ratio_summary, print_run

_STATE = b'{"vcpus":2,"memory_mib":512,"kernel":"/boot/vmlinuz","tags":["bench"]}'
_TOPIC = "vmcore.domain:VirtualMachine.Started"


def _env(kind: str, path: str, fsync: str = "always") -> dict[str, str]:
    if kind == "sqlite":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path + ".db"}
    return {
        "PERSISTENCE_MODULE": "vmcore_event_store.file",
        "VMCORE_FILE_STORE_PATH": path,
        "VMCORE_FSYNC": fsync,
    }


def _fill(kind: str, path: str, events: int) -> str:
    """A store of ``events`` events: 10,000 aggregates, 100 events per commit."""
    factory = InfrastructureFactory.construct(Environment(env=_env(kind, path, "none")))
    recorder = factory.application_recorder()
    aggregates = [uuid.uuid4() for _ in range(10_000)]
    per_aggregate = max(1, events // len(aggregates))
    for start in range(0, per_aggregate, 100):
        for oid in aggregates:
            recorder.insert_events(
                [
                    StoredEvent(oid, v, _TOPIC, _STATE)
                    for v in range(start + 1, min(per_aggregate, start + 100) + 1)
                ]
            )
    factory.close()
    return str(aggregates[0])


_OPEN_PROBE = """
import importlib, sys, time, uuid
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment
env = dict(arg.split("=", 1) for arg in sys.argv[2:])
importlib.import_module(env["PERSISTENCE_MODULE"])  # module import is start-up, not open
started = time.perf_counter()
factory = InfrastructureFactory.construct(Environment(env=env))
recorder = factory.application_recorder()
recorder.max_notification_id()
events = recorder.select_events(uuid.UUID(sys.argv[1]))
seconds = time.perf_counter() - started
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(seconds, int(hwm.split()[1]) / 1024, len(events))
"""


def open_cost(kind: str, path: str, oid: str) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of opening the store and reading one aggregate, fresh process."""
    env = _env(kind, path)
    args = [sys.executable, "-c", _OPEN_PROBE, oid, *(f"{k}={v}" for k, v in env.items())]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def _writer_process(kind: str, path: str, commits: int, ready: Any, go: Any, done: Any) -> None:
    factory = InfrastructureFactory.construct(Environment(env=_env(kind, path)))
    recorder = factory.application_recorder()
    oid = uuid.uuid4()
    recorder.insert_events([StoredEvent(oid, 1, _TOPIC, _STATE)])
    ready.release()
    go.wait()
    for version in range(2, commits + 2):
        recorder.insert_events([StoredEvent(oid, version, _TOPIC, _STATE)])
    done.put(commits)
    factory.close()


def writer_processes(kind: str, path: str, processes: int, commits: int) -> float:
    """Events/s of ``processes`` writer processes, each on its own aggregate."""
    # Create the store (tables, WAL mode) once: eventsourcing's SQLite module fails with
    # "database is locked" when several processes create it at the same moment.
    InfrastructureFactory.construct(Environment(env=_env(kind, path))).close()
    ctx = multiprocessing.get_context("fork")
    ready, go, done = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    children = [
        ctx.Process(target=_writer_process, args=(kind, path, commits, ready, go, done))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    for _ in children:
        if not ready.acquire(timeout=120):
            raise RuntimeError(f"a {kind} writer process failed to start")
    started = time.perf_counter()
    go.set()
    total: float = sum(done.get(timeout=600) for _ in children)
    seconds = time.perf_counter() - started
    for child in children:
        child.join()
    return total / seconds


def writer_threads(path: str, threads: int, commits: int) -> float:
    factory = InfrastructureFactory.construct(Environment(env=_env("file", path)))
    recorder = factory.application_recorder()

    def write() -> None:
        oid = uuid.uuid4()
        for version in range(1, commits + 1):
            recorder.insert_events([StoredEvent(oid, version, _TOPIC, _STATE)])

    workers = [threading.Thread(target=write) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    factory.close()
    return threads * commits / seconds


def one_run(root: str, run: int, paths: dict[str, str], oids: dict[str, str], events: int,
            commits: int) -> list[Row]:
    """(workload, file store, SQLite) figures of one run; big stores are filled once."""
    rows: list[Row] = []
    opened = {kind: open_cost(kind, paths[kind], oids[kind]) for kind in paths}
    rows.append((f"open {events:,} events + read one aggregate, s", opened["file"][0],
                 opened["sqlite"][0]))
    rows.append(("  peak RSS of that process, MiB", opened["file"][1], opened["sqlite"][1]))
    procs = {
        kind: writer_processes(kind, os.path.join(root, f"procs-{kind}-{run}"), 8, commits)
        for kind in ("file", "sqlite")
    }
    rows.append(("8 writer processes, durable, events/s", procs["file"], procs["sqlite"]))
    one = writer_threads(os.path.join(root, f"threads-1-{run}"), 1, commits * 2)
    eight = writer_threads(os.path.join(root, f"threads-8-{run}"), 8, commits)
    rows.append(("file: 8 writer threads (file) vs 1 (SQLite col.), ev/s", eight, one))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--runs", type=int, default=1, help="measurements after one fill")
    parser.add_argument("--dir", default=None)
    args = parser.parse_args(argv)
    events = args.events or (10_000 if args.quick else 1_000_000)
    commits = 5 if args.quick else 150
    root = tempfile.mkdtemp(prefix="vmcore-bench-scale-", dir=args.dir)
    runs = []
    try:
        paths = {kind: os.path.join(root, f"big-{kind}") for kind in ("file", "sqlite")}
        oids = {kind: _fill(kind, path, events) for kind, path in paths.items()}
        for run in range(args.runs):
            load = load_average()
            runs.append(one_run(root, run, paths, oids, events, commits))
            print_run(run + 1, load, runs[-1], ours="file store", peer="SQLite", width=56,
                      decimals=3)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_ratio_summary(runs, title="ratio file/SQLite", width=56)

if __name__ == "__main__":
    main()
