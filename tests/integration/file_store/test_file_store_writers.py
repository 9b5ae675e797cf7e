"""Several writer processes on one store, as SQLite allows: each takes the lock per append."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from pathlib import Path
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import Environment

from vmcore_event_store.file import FileInfrastructureFactory

_ctx = multiprocessing.get_context("fork")
_PROCESSES = 8


def _factory(path: str, fsync: str = "always") -> FileInfrastructureFactory:
    return FileInfrastructureFactory(
        Environment(
            env={
                "VMCORE_FILE_STORE_PATH": path,
                "VMCORE_FSYNC": fsync,
                "VMCORE_FILE_SEGMENT_BYTES": "4096",  # many segment switches under contention
            }
        )
    )


def _own_vm(path: str, oid_bytes: bytes, commits: int, conn: Connection) -> None:
    recorder = _factory(path).application_recorder()
    oid = UUID(bytes=oid_bytes)
    acked = []
    for version in range(1, commits + 1):
        ids = recorder.insert_events([StoredEvent(oid, version, "t", oid.bytes * 4)])
        acked.append((version, list(ids or [])))
    conn.send(acked)


def _start(target: object, *args: object) -> tuple[multiprocessing.Process, Connection]:
    parent, child = _ctx.Pipe(duplex=False)
    process = _ctx.Process(target=target, args=(*args, child), daemon=True)  # type: ignore[arg-type]
    process.start()
    child.close()
    return process, parent  # type: ignore[return-value]


def test_writer_processes_on_different_vms_lose_nothing(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    commits = 40
    oids = [uuid4() for _ in range(_PROCESSES)]
    started = [_start(_own_vm, store, oid.bytes, commits) for oid in oids]
    acked = {oid: conn.recv() for oid, (_, conn) in zip(oids, started, strict=True)}
    for process, _ in started:
        process.join()

    factory = _factory(store)
    try:
        recorder = factory.application_recorder()
        notifications = recorder.select_notifications(None, 10**6)
        assert list(range(1, _PROCESSES * commits + 1)) == [n.id for n in notifications]
        by_id = {n.id: n for n in notifications}
        for oid, versions in acked.items():
            stored = [
                (by_id[i].originator_id, by_id[i].originator_version)
                for _, ids in versions
                for i in ids
            ]
            assert [(oid, v) for v, _ in versions] == stored
            assert list(range(1, commits + 1)) == [
                e.originator_version for e in recorder.select_events(oid)
            ]
    finally:
        factory.close()


def _race_on_one_vm(path: str, oid_bytes: bytes, wins_wanted: int, conn: Connection) -> None:
    recorder = _factory(path).application_recorder()
    oid = UUID(bytes=oid_bytes)
    won: list[int] = []
    tag = str(multiprocessing.current_process().pid).encode()
    while len(won) < wins_wanted:
        latest = recorder.select_events(oid, desc=True, limit=1)
        version = latest[0].originator_version + 1 if latest else 1
        try:
            recorder.insert_events([StoredEvent(oid, version, "t", tag)])
        except IntegrityError:
            continue  # another process took this version: look again
        won.append(version)
    conn.send((tag, won))


def test_writer_processes_on_one_vm_have_one_winner_per_version(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    oid = uuid4()
    wins = 15
    started = [_start(_race_on_one_vm, store, oid.bytes, wins) for _ in range(_PROCESSES)]
    results = [conn.recv() for _, conn in started]
    for process, _ in started:
        process.join()

    factory = _factory(store)
    try:
        stored = factory.application_recorder().select_events(oid)
    finally:
        factory.close()
    total = _PROCESSES * wins
    assert list(range(1, total + 1)) == [e.originator_version for e in stored]
    winner = {v: tag for tag, won in results for v in won}
    assert total == sum(len(won) for _, won in results)  # no version won twice
    assert [winner[e.originator_version] for e in stored] == [e.state for e in stored]
