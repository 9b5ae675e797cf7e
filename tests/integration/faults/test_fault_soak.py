"""`make soak`: the fault campaign's shapes, bounded in count and time.

* Many writer processes on PostgreSQL, through a proxy that throws away replies after the
  server answered (at random): every toggle reported done is stored exactly once.
* A reader tailing a file store with tiny segments (hundreds of segment switches) while
  the writer process is SIGKILLed mid-append and restarted, again and again: the durable
  subscriber (in the reader process) delivers every stored event once, in order, and
  every acknowledged event is stored.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import store_env
from tests.integration.faults.soak_workers import toggle_worker
from tests.integration.faults.tcp_proxy import FaultyProxy
from vmcore.application import ControlPlane
from vmcore.bus import DurableState, UnifiedEventBus
from vmcore.composition import StoreSpec
from vmcore.domain import VmConfig

pytestmark = [pytest.mark.soak, pytest.mark.timeout(900)]
WORKERS = Path(__file__).with_name("soak_workers.py")


@pytest.mark.postgres
def test_many_writer_processes_through_lost_replies_store_each_success_once(
        tmp_path: Path) -> None:
    writers, operations = 8, 25
    direct = store_env("postgres", tmp_path)
    with FaultyProxy(os.environ["POSTGRES_HOST"], int(os.environ["POSTGRES_PORT"])) as proxy:
        via_proxy = direct | {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(proxy.port)}
        with ControlPlane(direct, snapshot_interval=0) as cp:
            vm_id = cp.create_vm("contended", VmConfig())
            cp.start_vm(vm_id)
        context = multiprocessing.get_context("spawn")
        with context.Manager() as manager:
            barrier = manager.Barrier(writers + 1)
            with context.Pool(writers) as pool:
                pending = pool.starmap_async(
                    toggle_worker, [(via_proxy, str(vm_id), operations, barrier)] * writers)
                barrier.wait(300)  # every writer is connected: now lose replies
                proxy.drop_replies_at_random(0.03, seed=12)
                results = pending.get(600)
        dropped = proxy.replies_dropped
    done = sum(r[0] for r in results)
    errors = [e for r in results for e in r[2]]
    with ControlPlane(direct, snapshot_interval=0) as cp:
        version = cp.get_vm(vm_id).version
    print(f"\n{writers} writers x {operations}: {done} done, {sum(r[1] for r in results)}"
          f" exhausted, {len(errors)} errors, {dropped} replies dropped")
    assert [] == errors
    assert 2 + done == version  # create + start + one event per reported success
    assert dropped > 0


def test_a_tailing_reader_through_segment_switches_and_killed_writers(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = StoreSpec("file", str(store)).env() | {"VMCORE_FILE_SEGMENT_BYTES": "2048"}
    writer_env = {**os.environ, "PYTHONPATH": os.getcwd(), "VMCORE_FILE_SEGMENT_BYTES": "2048"}
    rng = random.Random(3)
    acknowledged: list[int] = []
    seen: list[int] = []
    store.mkdir()
    with ControlPlane(env, snapshot_interval=0) as reader:
        bus = UnifiedEventBus()
        durable = bus.subscribe_durable(
            "tail", lambda e: seen.append(e.originator_version), ["vm.*"],
            application=reader, poll_interval=0.01)
        try:
            for _ in range(8):  # eight writer lives, each SIGKILLed part-way
                writer = subprocess.Popen(
                    [sys.executable, str(WORKERS), "append", str(store), "400"],
                    stdout=subprocess.PIPE, text=True, env=writer_env)
                assert writer.stdout is not None
                for _ in range(rng.randrange(20, 120)):
                    line = writer.stdout.readline()
                    if not line:
                        break
                    acknowledged.append(int(line))
                writer.send_signal(signal.SIGKILL)
                writer.wait(60)
            last = reader.recorder.max_notification_id() or 0
            durable.wait(last, timeout=120)
            status = durable.status()
        finally:
            bus.stop()
        stored = [e.originator_version for e in reader.history("soak")]
    segments = len(list((store / "events").glob("*.seg")))
    print(f"\n{len(acknowledged)} acknowledged, {len(stored)} stored, {segments} segments,"
          f" reader outages survived: {status.outages} ({status.last_error})")
    assert list(range(1, len(stored) + 1)) == stored
    assert set(acknowledged) <= set(stored)
    assert stored == seen
    assert DurableState.RUNNING == status.state


def test_postgres_killed_during_writes_loses_no_acknowledged_event() -> None:
    """Writer threads commit while the server is crashed (pg_ctl -m immediate) and
    restarted three times; a durable subscriber follows throughout."""
    from tests.integration.faults.own_postgres import OwnPostgres

    with OwnPostgres() as server:
        env = server.env()
        acknowledged: list[tuple[str, int]] = []  # (vm id, version) of returned saves
        failures: list[str] = []
        seen: list[tuple[str, int]] = []
        lock = threading.Lock()
        stop = threading.Event()
        with ControlPlane(env, snapshot_interval=0) as cp:
            names = [f"vm-{n}" for n in range(3)]
            for name in names:
                cp.create_vm(name, VmConfig())

            def write(name: str) -> None:
                while not stop.is_set():
                    try:
                        vm = cp.execute(name, lambda vm: vm.add_device(f"d{vm.version}", "x"))
                    except Exception as error:  # outcome unknown: not acknowledged
                        with lock:
                            failures.append(type(error).__name__)
                        continue
                    with lock:
                        acknowledged.append((str(vm.id), vm.version))

            bus = UnifiedEventBus()
            durable = bus.subscribe_durable(
                "tail", lambda e: seen.append((str(e.originator_id), e.originator_version)),
                ["vm.device_added"], application=cp)
            threads = [threading.Thread(target=write, args=(name,)) for name in names]
            for thread in threads:
                thread.start()
            try:
                for _ in range(3):
                    with lock:
                        before = (len(acknowledged), len(failures))
                    _until(lambda b=before: len(acknowledged) >= b[0] + 30)
                    server.crash()
                    _until(lambda b=before: len(failures) > b[1])
                    server.start()
                _until(lambda: len(acknowledged) >= 150)
            finally:
                stop.set()
                for thread in threads:
                    thread.join(120)
            last = cp.recorder.max_notification_id() or 0
            durable.wait(last, timeout=180)
            status = durable.status()
            bus.stop()
            stored = {(str(e.originator_id), e.originator_version) for name in names
                      for e in cp.history(name) if e.bus_topic == "vm.device_added"}
    print(f"\n{len(acknowledged)} acknowledged, {len(failures)} failed writes"
          f" ({sorted(set(failures))}), subscriber outages survived: {status.outages}")
    assert set(acknowledged) <= stored
    assert len(acknowledged) == len(set(acknowledged))
    assert sorted(stored) == sorted(seen)  # every stored device event, once
    assert DurableState.RUNNING == status.state


def _until(condition: Callable[[], bool], timeout: float = 180.0) -> None:
    """Waits for the writers' progress (a bounded wait on a condition, not a timing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the writers made no progress")
        time.sleep(0.05)
