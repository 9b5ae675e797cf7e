"""Readers never repair, never fail at a segment switch, never need write permission; the
LOCK file always names its holder (issue 12, items 1, 3 and 8). Real processes throughout."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import tempfile
import warnings
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.utils import Environment

from vmcore_event_store.file import FileInfrastructureFactory, TornTailWarning
from vmcore_event_store.file.framing import encode_commit
from vmcore_event_store.file.writer_lock import WriterLock

OpenStore = Callable[..., FileInfrastructureFactory]
_ctx = multiprocessing.get_context("fork")


def _factory(path: str, **env: str) -> FileInfrastructureFactory:
    return FileInfrastructureFactory(Environment(env={"VMCORE_FILE_STORE_PATH": path, **env}))


def _write(
    path: str, oid_bytes: bytes, count: int, segment_bytes: str, fsync: str, conn: Connection
) -> None:
    recorder = _factory(
        path, VMCORE_FILE_SEGMENT_BYTES=segment_bytes, VMCORE_FSYNC=fsync
    ).application_recorder()
    oid = UUID(bytes=oid_bytes)
    for version in range(1, count + 1):
        recorder.insert_events([StoredEvent(oid, version, "t", b"x" * 60)])
    conn.send("done")
    conn.recv()


def _run(target: Callable[..., None], *args: object) -> tuple[multiprocessing.Process, Connection]:
    parent, child = _ctx.Pipe()
    process = _ctx.Process(target=target, args=(*args, child), daemon=True)
    process.start()
    child.close()
    return process, parent  # type: ignore[return-value]


def _kill(process: multiprocessing.Process) -> None:
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    process.join()


def _count_in_reader_process(path: str, conn: Connection) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        factory = _factory(path)
        count = factory.application_recorder().max_notification_id()
        factory.close()
    conn.send((count, [str(w.message) for w in caught]))


def test_a_reader_process_never_truncates_a_torn_tail(tmp_path: Path) -> None:
    store = tmp_path / "store"
    oid = uuid4()
    writer, conn = _run(_write, str(store), oid.bytes, 3, str(1 << 20), "always")
    assert "done" == conn.recv()
    _kill(writer)  # no live writer any more
    segment = sorted((store / "events").glob("*.seg"))[-1]
    good = segment.stat().st_size
    torn = encode_commit([Notification(oid, 4, "t", b"y" * 500, 4)], None)[:200]
    with segment.open("ab") as f:
        f.write(torn)

    reader, conn = _run(_count_in_reader_process, str(store))
    count, messages = conn.recv()
    reader.join()
    assert (3, []) == (count, messages)
    assert good + len(torn) == segment.stat().st_size  # the evidence is still there

    # Only a writer, under the lock and after looking again, repairs.
    factory = _factory(str(store))
    try:
        with pytest.warns(TornTailWarning, match=f"at offset {good}"):
            factory.application_recorder().insert_events([StoredEvent(oid, 4, "t", b"")])
        assert 4 == factory.application_recorder().max_notification_id()
    finally:
        factory.close()


def _tail(path: str, expected: int, conn: Connection) -> None:
    recorder = _factory(path).application_recorder()
    polls = 0
    try:
        while (recorder.max_notification_id() or 0) < expected:
            polls += 1
        conn.send(("ok", polls))
    except Exception as e:  # reported to the test, which fails with it
        conn.send(("error", repr(e)))


def test_reader_processes_survive_segment_switches(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    # Each segment ends with the writer's fdatasync of its last commit, then of its seal,
    # then the next segment appears: the window where a reader's size is stale. More
    # readers than cores get them preempted inside it.
    commits = 1000  # a switch every four commits
    readers = [_run(_tail, str(store), commits) for _ in range(4)]
    writer, conn = _run(_write, str(store), uuid4().bytes, commits, "600", "always")
    try:
        assert "done" == conn.recv()
        results = [reader_conn.recv() for _, reader_conn in readers]
    finally:
        _kill(writer)
        for reader, _ in readers:
            reader.join()
    assert ["ok"] * 4 == [status for status, _ in results], results
    assert len(list((store / "events").glob("*.seg"))) > 200


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vmcore-ro-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _read_as_nobody(path: str, conn: Connection) -> None:
    try:
        if os.getuid() == 0:
            os.setgid(65534)
            os.setuid(65534)
        assert not os.access(path, os.W_OK)
        factory = _factory(path)
        recorder = factory.application_recorder()
        conn.send(("ok", [e.originator_version for e in recorder.select_events(UUID(int=7))]))
    except Exception as e:
        conn.send(("error", repr(e)))


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to drop to another user")
def test_a_store_that_may_only_be_read_can_be_read(world_readable_dir: Path) -> None:
    store = world_readable_dir / "store"
    factory = _factory(str(store))
    factory.application_recorder().insert_events(
        [StoredEvent(UUID(int=7), v, "t", b"") for v in (1, 2)]
    )
    factory.close()
    reader, conn = _run(_read_as_nobody, str(store))
    result = conn.recv()
    reader.join()
    assert ("ok", [1, 2]) == result


def _lock_and_unlock(path: str, rounds: int, conn: Connection) -> None:
    for _ in range(rounds):
        lock = WriterLock(path)  # a new writer each time, as short-lived processes are
        lock.acquire()
        lock.release()
        lock.close()
    conn.send("done")


def test_the_lock_file_is_never_empty_while_a_holder_rewrites_it(tmp_path: Path) -> None:
    first = WriterLock(str(tmp_path))
    first.acquire()
    first.release()
    first.close()
    lock_file = tmp_path / "LOCK"
    process, conn = _run(_lock_and_unlock, str(tmp_path), 3000)
    empty = reads = 0
    try:
        while not conn.poll():
            reads += 1
            if not lock_file.read_bytes().strip():
                empty += 1
    finally:
        process.join()
    assert (0, True) == (empty, reads > 0)
