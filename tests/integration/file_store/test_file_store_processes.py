"""Writer processes take turns per append; reader processes see (and tail) their commits."""

from __future__ import annotations

import multiprocessing
import os
import signal
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.utils import Environment

from vmcore_event_store.file import FileInfrastructureFactory, StoreLockedError, TornTailWarning
from vmcore_event_store.file.framing import encode_commit
from vmcore_event_store.file.writer_lock import WriterLock

OpenStore = Callable[..., FileInfrastructureFactory]
_ctx = multiprocessing.get_context("fork")


def _child_writer(path: str, conn: Connection, oid_bytes: bytes, batches: int) -> None:
    """Writes ``batches`` one-event commits, reporting each id, then waits to be told to go."""
    factory = FileInfrastructureFactory(
        Environment(env={"VMCORE_FILE_STORE_PATH": path, "VMCORE_FILE_SEGMENT_BYTES": "512"})
    )
    recorder = factory.application_recorder()
    oid = UUID(bytes=oid_bytes)
    for version in range(1, batches + 1):
        ids = recorder.insert_events([StoredEvent(oid, version, "child", b"x" * 100)])
        conn.send(list(ids or []))
    conn.send("done")
    conn.recv()  # hold the writer lock until the parent says so


def _start_writer(
    path: Path, oid: UUID, batches: int
) -> tuple[multiprocessing.process.BaseProcess, Connection]:
    parent, child = _ctx.Pipe()
    process = _ctx.Process(target=_child_writer, args=(str(path), child, oid.bytes, batches))
    process.start()
    child.close()
    return process, parent


def _hold_lock(path: str, conn: Connection) -> None:
    """Takes the store's writer lock and keeps it until told (a stuck writer)."""
    lock = WriterLock(path)
    lock.acquire()
    conn.send("held")
    conn.recv()


def test_writer_processes_take_turns(open_store: OpenStore, tmp_path: Path) -> None:
    store = tmp_path / "store"
    oid = uuid4()
    process, conn = _start_writer(store, oid, batches=3)
    try:
        while conn.recv() != "done":
            pass
        # The child is still alive with the store open, between appends: we may write.
        recorder = open_store(store).application_recorder()
        assert [e.originator_version for e in recorder.select_events(oid)] == [1, 2, 3]
        assert [4] == list(recorder.insert_events([StoredEvent(oid, 4, "parent", b"")]) or [])
        conn.send("go")
    finally:
        process.join()
    assert [1, 2, 3, 4] == [e.originator_version for e in recorder.select_events(oid)]


def test_a_stuck_holder_is_named_after_the_lock_timeout(
    open_store: OpenStore, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    parent, child = _ctx.Pipe()
    process = _ctx.Process(target=_hold_lock, args=(str(store), child))
    process.start()
    child.close()
    try:
        assert "held" == parent.recv()
        recorder = open_store(store, VMCORE_FILE_LOCK_TIMEOUT="0.05").application_recorder()
        with pytest.raises(StoreLockedError) as raised:
            recorder.insert_events([StoredEvent(uuid4(), 1, "parent", b"")])
        message = str(raised.value)
        assert str(store / "LOCK") in message
        assert f"pid {process.pid}" in message
    finally:
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)  # the kernel drops a dead holder's flock
        process.join()
    assert [1] == list(recorder.insert_events([StoredEvent(uuid4(), 1, "parent", b"")]) or [])


def test_reader_process_tails_a_writer_process(open_store: OpenStore, tmp_path: Path) -> None:
    store = tmp_path / "store"
    reader = open_store(store, VMCORE_FILE_POLL_INTERVAL="0.005").application_recorder()
    oid = uuid4()
    batches = 60
    process, conn = _start_writer(store, oid, batches=batches)
    seen: list[int] = []
    try:
        with reader.subscribe(gt=None) as subscription:
            for notification in subscription:
                assert (oid, len(seen) + 1) == (
                    notification.originator_id,
                    notification.originator_version,
                )
                seen.append(notification.id)
                if len(seen) == batches:
                    break
        acknowledged = []
        while (message := conn.recv()) != "done":
            acknowledged.extend(message)
        conn.send("go")
    finally:
        process.join()
    assert acknowledged == seen
    assert len(list((store / "events").glob("*.seg"))) > 1  # tailing crossed segments


def test_a_reader_leaves_a_live_writers_partial_tail_alone(
    open_store: OpenStore, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    oid = uuid4()
    process, conn = _start_writer(store, oid, batches=2)
    try:
        while conn.recv() != "done":
            pass
        segment = sorted((store / "events").glob("*.seg"))[-1]
        size = segment.stat().st_size
        partial = encode_commit([Notification(oid, 3, "child", b"x" * 100, 3)], None)[:40]
        with segment.open("ab") as f:  # what a reader sees in the middle of an append
            f.write(partial)
        with warnings.catch_warnings():
            warnings.simplefilter("error", TornTailWarning)
            recorder = open_store(store).application_recorder()
            assert 2 == recorder.max_notification_id()
        assert size + len(partial) == segment.stat().st_size
    finally:
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)
        process.join()
    with pytest.warns(TornTailWarning, match=f"{segment} at offset {size}"):
        assert [3] == list(recorder.insert_events([StoredEvent(oid, 3, "parent", b"")]) or [])
    assert 3 == recorder.max_notification_id()
