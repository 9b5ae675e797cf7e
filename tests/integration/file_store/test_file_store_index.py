"""The persistent index: resumed from its checkpoint, verified, rebuilt when torn or stale."""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import signal
import sqlite3
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import Environment

from vmcore_event_store.file import FileInfrastructureFactory
from vmcore_event_store.file.checkpoint import INDEX_NAME, IndexFile, build_index

OpenStore = Callable[..., FileInfrastructureFactory]
_ctx = multiprocessing.get_context("fork")


def _fill(open_store: OpenStore, store: Path, aggregates: int, versions: int) -> list[UUID]:
    factory = open_store(store, VMCORE_FILE_INDEX_CHECKPOINT="50", VMCORE_FSYNC="none")
    recorder = factory.application_recorder()
    oids = [uuid4() for _ in range(aggregates)]
    for version in range(1, versions + 1):
        for oid in oids:
            recorder.insert_events([StoredEvent(oid, version, f"t{version % 3}", oid.bytes)])
    factory.close()
    return oids


def _everything(factory: FileInfrastructureFactory, oids: list[UUID]) -> tuple[object, ...]:
    """What a fresh open reads (the factory is closed afterwards)."""
    try:
        recorder = factory.application_recorder()
        return (
            list(recorder.select_notifications(None, 10**6)),
            list(recorder.select_notifications(7, 25, topics=["t1"])),
            [list(recorder.select_events(oid, gt=2, lte=9, desc=True, limit=4)) for oid in oids],
            recorder.max_notification_id(),
        )
    finally:
        factory.close()


def _checkpoint_id(store: Path) -> int:
    index = IndexFile(str(store / "events" / INDEX_NAME), writable=False)
    try:
        loaded = index.load()
    finally:
        index.close()
    assert loaded is not None
    return loaded[0].max_id


def test_reads_combine_the_index_and_the_tail(open_store: OpenStore, tmp_path: Path) -> None:
    store = tmp_path / "store"
    oids = _fill(open_store, store, aggregates=7, versions=11)  # 77 events: 50 in the index
    assert 50 <= _checkpoint_id(store) < 77
    indexed = _everything(open_store(store), oids)

    reference = tmp_path / "reference"
    os.makedirs(reference / "events")
    for segment in (store / "events").glob("*.seg"):
        (reference / "events" / segment.name).write_bytes(segment.read_bytes())
    assert indexed == _everything(open_store(reference), oids)  # no index at all
    assert not (reference / "events" / INDEX_NAME).exists()


def test_a_stale_index_is_detected_and_rebuilt(
    open_store: OpenStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "store"
    oids = _fill(open_store, store, aggregates=5, versions=12)
    expected = _everything(open_store(store), oids)
    other = tmp_path / "other"
    _fill(open_store, other, aggregates=5, versions=12)  # same shape, other events
    os.replace(other / "events" / INDEX_NAME, store / "events" / INDEX_NAME)
    with caplog.at_level(logging.WARNING):
        assert expected == _everything(open_store(store), oids)
    assert "stale" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # it was rebuilt: trusted again
        assert expected == _everything(open_store(store), oids)
    assert ("", 60) == (caplog.text, _checkpoint_id(store))


def test_a_torn_index_file_is_detected_and_not_trusted(
    open_store: OpenStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "store"
    oids = _fill(open_store, store, aggregates=5, versions=12)
    expected = _everything(open_store(store), oids)
    index = store / "events" / INDEX_NAME
    index.write_bytes(index.read_bytes()[:1500])  # cut short
    with caplog.at_level(logging.WARNING):
        assert expected == _everything(open_store(store), oids)
    assert "index" in caplog.text
    assert 60 == _checkpoint_id(store)


def test_reindex_rebuilds_the_same_index(open_store: OpenStore, tmp_path: Path) -> None:
    store = tmp_path / "store"
    oids = _fill(open_store, store, aggregates=4, versions=30)
    expected = _everything(open_store(store), oids)
    os.remove(store / "events" / INDEX_NAME)
    checkpoint = build_index(str(store / "events"))
    assert 120 == checkpoint.max_id == _checkpoint_id(store)
    assert expected == _everything(open_store(store), oids)


def _write_with_checkpoints(path: str, seed: int, conn: Connection) -> None:
    factory = FileInfrastructureFactory(
        Environment(
            env={
                "VMCORE_FILE_STORE_PATH": path,
                "VMCORE_FILE_INDEX_CHECKPOINT": "7",  # checkpoints all the time
                "VMCORE_FILE_SEGMENT_BYTES": "2000",
            }
        )
    )
    recorder = factory.application_recorder()
    rng = random.Random(seed)
    while True:
        oid = uuid4()
        batch = rng.randint(1, 3)
        ids = recorder.insert_events(
            [StoredEvent(oid, v, "t", oid.bytes * v) for v in range(1, batch + 1)]
        )
        conn.send((oid.bytes, batch, list(ids or [])))


def test_a_crash_during_checkpoints_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL a writer that checkpoints every few events, at random moments."""
    rng = random.Random(20261203)
    store = str(tmp_path / "store")
    acked: list[tuple[bytes, int, list[int]]] = []
    for _ in range(12):
        receiver, sender = _ctx.Pipe(duplex=False)
        child = _ctx.Process(
            target=_write_with_checkpoints, args=(store, rng.getrandbits(32), sender)
        )
        child.start()
        sender.close()
        for _ in range(rng.randint(1, 40)):
            acked.append(receiver.recv())
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        while receiver.poll():
            try:
                acked.append(receiver.recv())
            except EOFError:
                break
        receiver.close()

    factory = FileInfrastructureFactory(Environment(env={"VMCORE_FILE_STORE_PATH": store}))
    try:
        recorder = factory.application_recorder()
        notifications = recorder.select_notifications(None, 10**6)
        assert list(range(1, len(notifications) + 1)) == [n.id for n in notifications]
        by_id = {n.id: n for n in notifications}
        for oid_bytes, batch, ids in acked:
            oid = UUID(bytes=oid_bytes)
            assert [(oid, v, oid.bytes * v) for v in range(1, batch + 1)] == [
                (by_id[i].originator_id, by_id[i].originator_version, by_id[i].state)
                for i in ids
            ]
            assert batch == len(recorder.select_events(oid))
    finally:
        factory.close()
    try:
        checkpoint_id = _checkpoint_id(tmp_path / "store")
    except sqlite3.Error:
        checkpoint_id = 0
    assert checkpoint_id <= len(notifications)
