"""Crash test with real processes: SIGKILL writers at random moments, then check the store.

A forked child appends batches in a loop (one or several threads, every fsync policy) and
reports each batch through a pipe only after ``insert_events`` returned (several such
processes write to one store at once in the multi-writer trials). The parent kills it
with SIGKILL after a random number of acknowledgements, reopens the store and checks that
every acknowledged event is there and intact, that every visible event is intact, that
batches are all-or-nothing and that notification ids run 1..max without gaps.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import struct
import threading
import warnings
from multiprocessing.connection import Connection
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import Environment

from vmcore_event_store.file import FileInfrastructureFactory, TornTailWarning

_HEAD = struct.Struct("<16sIII")  # originator, version, batch size, state size
_SIZES = (16, 600, 20_000, 150_000)
_POLICIES = ("always", "group", "none")


def _state(oid: UUID, version: int, batch: int, size: int) -> bytes:
    head = _HEAD.pack(oid.bytes, version, batch, size)
    filler = (oid.bytes + version.to_bytes(4, "little")) * (size // 20 + 1)
    return head + filler[:size]


def _factory(path: str, policy: str) -> FileInfrastructureFactory:
    return FileInfrastructureFactory(
        Environment(
            env={
                "VMCORE_FILE_STORE_PATH": path,
                "VMCORE_FSYNC": policy,
                "VMCORE_FILE_SEGMENT_BYTES": str(2 << 20),
            }
        )
    )


def _writer(path: str, policy: str, conn: Connection, seed: int, threads: int) -> None:
    recorder = _factory(path, policy).application_recorder()
    send_lock = threading.Lock()

    def loop(rng: random.Random) -> None:
        while True:
            oid = UUID(int=rng.getrandbits(128), version=4)
            batch = rng.randint(1, 4)
            size = rng.choice(_SIZES)
            events = [
                StoredEvent(oid, v, "crash.test", _state(oid, v, batch, size))
                for v in range(1, batch + 1)
            ]
            ids = recorder.insert_events(events)
            with send_lock:
                conn.send((oid.bytes, batch, size, list(ids or [])))

    workers = [
        threading.Thread(target=loop, args=(random.Random(seed * 100 + i),), daemon=True)
        for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def _kill_at_random(
    path: str, policy: str, rng: random.Random
) -> list[tuple[bytes, int, int, list[int]]]:
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    threads = 4 if policy == "group" else 1
    child = ctx.Process(
        target=_writer, args=(path, policy, sender, rng.getrandbits(32), threads), daemon=True
    )
    child.start()
    sender.close()
    acked: list[tuple[bytes, int, int, list[int]]] = []
    wanted = rng.randint(0, 40)
    try:
        while len(acked) < wanted:
            acked.append(receiver.recv())
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
    while True:  # acknowledgements already in the pipe when the kill landed
        try:
            acked.append(receiver.recv())
        except EOFError:
            break
    receiver.close()
    return acked


def _kill_several_at_random(
    path: str, policy: str, rng: random.Random, writers: int
) -> list[tuple[bytes, int, int, list[int]]]:
    """Several writer processes at once, SIGKILLed one after another at random moments."""
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    threads = 2 if policy == "group" else 1
    children = [
        ctx.Process(
            target=_writer, args=(path, policy, sender, rng.getrandbits(32), threads), daemon=True
        )
        for _ in range(writers)
    ]
    for child in children:
        child.start()
    sender.close()
    acked: list[tuple[bytes, int, int, list[int]]] = []
    try:
        for child in children:
            wanted = len(acked) + rng.randint(0, 15)
            while len(acked) < wanted:
                acked.append(receiver.recv())
            assert child.pid is not None
            os.kill(child.pid, signal.SIGKILL)
    finally:
        for child in children:
            assert child.pid is not None
            os.kill(child.pid, signal.SIGKILL)
            child.join()
    while True:
        try:
            acked.append(receiver.recv())
        except EOFError:
            break
    receiver.close()
    return acked


def _check_store(path: str, acked: list[tuple[bytes, int, int, list[int]]]) -> int:
    """Reopens the store, checks it, returns the number of torn tails it reported."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TornTailWarning)
        factory = _factory(path, "always")
        try:
            recorder = factory.application_recorder()
        except BaseException:
            factory.close()
            raise
    try:
        notifications = recorder.select_notifications(None, 10**9)
        assert list(range(1, len(notifications) + 1)) == [n.id for n in notifications]
        by_id = {n.id: n for n in notifications}
        for oid_bytes, batch, size, ids in acked:
            oid = UUID(bytes=oid_bytes)
            expected = [_state(oid, v, batch, size) for v in range(1, batch + 1)]
            assert expected == [by_id[i].state for i in ids]
        batches: dict[UUID, list[int]] = {}
        for n in notifications:
            if n.topic == "after.crash":
                continue
            oid_bytes, version, batch, size = _HEAD.unpack_from(n.state)
            oid = UUID(bytes=oid_bytes)
            assert (oid, version) == (n.originator_id, n.originator_version)
            assert _state(oid, version, batch, size) == n.state
            batches.setdefault(oid, []).append(version)
            assert len(batches[oid]) <= batch
        for oid, versions in batches.items():
            _, _, batch, _ = _HEAD.unpack_from(recorder.select_events(oid)[0].state)
            assert list(range(1, batch + 1)) == versions
        # The dead writer's lock is gone: this process can write.
        recorder.insert_events([StoredEvent(uuid4(), 1, "after.crash", b"ok")])
        recorder.insert_events([])
    finally:
        factory.close()
    return sum(1 for w in caught if issubclass(w.category, TornTailWarning))


def _run_trials(tmp_path: Path, trials: int, seed: int, writers: int = 1) -> None:
    rng = random.Random(seed)
    torn = 0
    for trial in range(trials):
        policy = _POLICIES[trial % len(_POLICIES)]
        store = str(tmp_path / policy / str(trial // 60))  # a fresh store now and then
        if writers == 1:
            acked = _kill_at_random(store, policy, rng)
        else:
            acked = _kill_several_at_random(store, policy, rng, writers)
        try:
            torn += _check_store(store, acked)
        except AssertionError as e:
            raise AssertionError(f"trial {trial} ({policy}, seed {seed}): {e}") from e
    print(f"{trials} SIGKILL trials, {writers} writers (seed {seed}): {torn} torn tails truncated")


def test_sigkilled_writer_loses_no_acknowledged_event(tmp_path: Path) -> None:
    _run_trials(tmp_path, trials=50, seed=int(os.environ.get("VMCORE_CRASH_SEED", "20261123")))


def test_several_sigkilled_writer_processes_lose_no_acknowledged_event(tmp_path: Path) -> None:
    seed = int(os.environ.get("VMCORE_CRASH_SEED", "20261203"))
    _run_trials(tmp_path, trials=12, seed=seed, writers=4)


@pytest.mark.soak
def test_sigkilled_writer_soak(tmp_path: Path) -> None:
    _run_trials(tmp_path, trials=600, seed=random.SystemRandom().getrandbits(32))


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_several_sigkilled_writers_soak(tmp_path: Path) -> None:
    _run_trials(tmp_path, trials=120, seed=random.SystemRandom().getrandbits(32), writers=8)
