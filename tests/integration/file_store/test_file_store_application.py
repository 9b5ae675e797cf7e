"""The file store and the orjson transcoder under a real eventsourcing Application."""

from __future__ import annotations

import threading
from pathlib import Path
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import Environment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmcore_event_store.file import FileInfrastructureFactory
from vmcore_event_store.transcoder import OrjsonTranscoder


class _Counter(Aggregate):
    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.values: tuple[int, ...] = ()

    @event("Added")
    def add(self, value: int, tags: tuple[str, ...]) -> None:
        self.values = (*self.values, value)


class Counters(Application[UUID]):
    snapshotting_intervals = {_Counter: 5}


def _env(path: Path) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "vmcore_event_store.file",
        "TRANSCODER_TOPIC": "vmcore_event_store.transcoder:OrjsonTranscoder",
        "VMCORE_FILE_STORE_PATH": str(path / "not-this-one"),
        "COUNTERS_VMCORE_FILE_STORE_PATH": str(path),  # the application's prefix wins
    }


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.integers(-1000, 1000), min_size=1, max_size=23))
def test_application_replays_from_snapshots_at_any_version(
    tmp_path: Path, values: list[int]
) -> None:
    path = tmp_path / str(uuid4())
    app = Counters(env=_env(path))
    assert isinstance(app.factory.transcoder(), OrjsonTranscoder)
    counter = _Counter("c")
    for value in values:
        counter.add(value, ("a", "b"))
        app.save(counter)
    app.close()

    reopened = Counters(env=_env(path))
    try:
        assert not (path / "not-this-one").exists()
        assert reopened.snapshots is not None
        snapshots = list(reopened.snapshots.get(counter.id))
        assert [5 * (i + 1) for i in range((len(values) + 1) // 5)] == [
            s.originator_version for s in snapshots
        ]
        for version in range(1, len(values) + 2):
            copy: _Counter = reopened.repository.get(counter.id, version=version)
            assert tuple(values[: version - 1]) == copy.values
        assert counter.values == reopened.repository.get(counter.id).values
    finally:
        reopened.close()


def test_group_commit_under_concurrent_writers(tmp_path: Path) -> None:
    env = Environment(env={"VMCORE_FILE_STORE_PATH": str(tmp_path), "VMCORE_FSYNC": "group"})
    factory = FileInfrastructureFactory(env)
    recorder = factory.application_recorder()
    results: dict[UUID, list[int]] = {}

    def write(oid: UUID) -> None:
        ids: list[int] = []
        for version in range(1, 51):
            ids.extend(recorder.insert_events([StoredEvent(oid, version, "t", b"s")]) or [])
        results[oid] = ids

    threads = [threading.Thread(target=write, args=(uuid4(),)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    factory.close()

    reopened = FileInfrastructureFactory(env)
    try:
        notifications = reopened.application_recorder().select_notifications(None, 1000)
        assert list(range(1, 401)) == [n.id for n in notifications]
        for oid, ids in results.items():
            assert ids == sorted(ids)
            assert ids == [n.id for n in notifications if n.originator_id == oid]
    finally:
        reopened.close()
