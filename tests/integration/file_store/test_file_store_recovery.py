"""Durability, atomicity, recovery and corruption detection of the file store, on real files."""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from eventsourcing.utils import Environment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmcore_event_store.file import (
    CorruptRecordError,
    FileInfrastructureFactory,
    FileStoreError,
    FsyncPolicy,
    TornTailWarning,
)
from vmcore_event_store.file.framing import HEADER_SIZE, encode_commit

OpenStore = Callable[..., FileInfrastructureFactory]

_settings = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _event(oid: UUID, version: int, size: int = 8) -> StoredEvent:
    return StoredEvent(oid, version, f"topic{version}", bytes([version % 251]) * size)


def _record_starts(content: bytes) -> list[int]:
    """Offsets of the records in a segment, from the documented frame layout."""
    starts, offset = [], 0
    while offset < len(content):
        starts.append(offset)
        (length,) = struct.unpack_from("<I", content, offset + 4)
        offset += HEADER_SIZE + length
    return starts


def _segments(store: Path, log: str = "events") -> list[Path]:
    return sorted((store / log).glob("*.seg"))


def test_committed_events_survive_reopen(open_store: OpenStore, tmp_path: Path) -> None:
    oid = uuid4()
    factory = open_store()
    recorder = factory.application_recorder()
    expected = [_event(oid, v) for v in range(1, 6)]
    assert list(recorder.insert_events(expected[:3]) or []) == [1, 2, 3]
    assert list(recorder.insert_events(expected[3:]) or []) == [4, 5]
    factory.close()

    reopened = open_store().application_recorder()
    assert expected == list(reopened.select_events(oid))
    assert [n.id for n in reopened.select_notifications(None, 10)] == [1, 2, 3, 4, 5]
    assert list(reopened.insert_events([_event(oid, 6)]) or []) == [6]


def test_a_batch_with_a_duplicate_is_rejected_whole(open_store: OpenStore) -> None:
    oid, other = uuid4(), uuid4()
    factory = open_store()
    recorder = factory.application_recorder()
    recorder.insert_events([_event(oid, 1)])
    with pytest.raises(IntegrityError):
        recorder.insert_events([_event(other, 1), _event(oid, 2), _event(oid, 1)])
    assert list(recorder.select_events(other)) == []
    assert recorder.max_notification_id() == 1
    factory.close()
    reopened = open_store().application_recorder()
    assert list(reopened.select_events(other)) == []
    assert reopened.max_notification_id() == 1


def test_insert_notifications_preserves_ids(open_store: OpenStore) -> None:
    oid = uuid4()
    recorder = open_store().application_recorder()
    copied = [Notification(oid, v, "t", b"s", i) for v, i in ((1, 3), (2, 7), (3, 8))]
    recorder.insert_notifications(copied)  # type: ignore[attr-defined]
    assert copied == list(recorder.select_notifications(None, 10))
    with pytest.raises(IntegrityError):
        recorder.insert_notifications([Notification(uuid4(), 1, "t", b"s", 8)])  # type: ignore[attr-defined]
    assert list(recorder.insert_events([_event(oid, 4)]) or []) == [9]


@_settings
@given(cut=st.integers(min_value=1, max_value=10_000), size=st.integers(1, 5000))
def test_torn_tail_is_truncated_and_reported(
    open_store: OpenStore, tmp_path: Path, cut: int, size: int
) -> None:
    store = tmp_path / f"torn-{cut}-{size}"
    oid = uuid4()
    factory = open_store(store)
    factory.application_recorder().insert_events([_event(oid, 1), _event(oid, 2)])
    factory.close()
    segment = _segments(store)[-1]
    good_size = segment.stat().st_size
    record = encode_commit([Notification(oid, 3, "t", b"x" * size, 3)], None)
    with segment.open("ab") as f:
        f.write(record[: cut % len(record) or 1])

    with warnings.catch_warnings():
        warnings.simplefilter("error", TornTailWarning)  # opening and reading never repair
        recorder = open_store(store).application_recorder()
        assert [e.originator_version for e in recorder.select_events(oid)] == [1, 2]
    assert good_size + len(record[: cut % len(record) or 1]) == segment.stat().st_size
    with pytest.warns(TornTailWarning, match=f"{segment} at offset {good_size}"):
        assert list(recorder.insert_events([_event(oid, 3)]) or []) == [3]
    assert [e.originator_version for e in recorder.select_events(oid)] == [1, 2, 3]


def test_zero_filled_tail_is_torn_not_corrupt(open_store: OpenStore, tmp_path: Path) -> None:
    factory = open_store()
    factory.application_recorder().insert_events([_event(uuid4(), 1)])
    factory.close()
    segment = _segments(tmp_path / "store")[-1]
    with segment.open("ab") as f:
        f.write(bytes(4096))
    recorder = open_store().application_recorder()
    assert recorder.max_notification_id() == 1
    with pytest.warns(TornTailWarning, match="zero-filled"):
        assert [2] == list(recorder.insert_events([_event(uuid4(), 1)]) or [])


@settings(_settings, max_examples=100)
@given(data=st.data())
def test_any_flipped_byte_is_reported_with_file_and_offset(
    open_store: OpenStore, tmp_path: Path, data: st.DataObject
) -> None:
    store = tmp_path / f"flip-{uuid4()}"
    factory = open_store(store, VMCORE_FILE_SEGMENT_BYTES="600", VMCORE_FSYNC="none")
    recorder = factory.application_recorder()
    for version in range(1, 13):
        recorder.insert_events([_event(uuid4(), version, size=version * 10)])
    factory.close()

    segment = data.draw(st.sampled_from(_segments(store)))
    content = bytearray(segment.read_bytes())
    if not content:  # the fresh, still empty last segment
        return
    starts = _record_starts(bytes(content))
    flip = data.draw(st.integers(0, len(content) - 1))
    content[flip] ^= data.draw(st.integers(1, 255))
    segment.write_bytes(bytes(content))

    expected_offset = max(start for start in starts if start <= flip)
    with warnings.catch_warnings(), pytest.raises(CorruptRecordError) as raised:
        warnings.simplefilter("error", TornTailWarning)  # never "recover" from a flip
        open_store(store).application_recorder()
    assert (str(segment), expected_offset) == (raised.value.path, raised.value.offset)
    assert f"{segment} at offset {raised.value.offset}" in str(raised.value)


def test_missing_segment_is_reported(open_store: OpenStore, tmp_path: Path) -> None:
    store = tmp_path / "store"
    factory = open_store(store, VMCORE_FILE_SEGMENT_BYTES="100")
    recorder = factory.application_recorder()
    for version in range(1, 6):
        recorder.insert_events([_event(uuid4(), version, size=200)])
    factory.close()
    missing = _segments(store)[1]
    os.remove(missing)
    with pytest.raises(CorruptRecordError, match=str(missing)):
        open_store(store).application_recorder()


def test_segments_roll_over_and_are_read_back(open_store: OpenStore, tmp_path: Path) -> None:
    store = tmp_path / "store"
    oid = uuid4()
    factory = open_store(store, VMCORE_FILE_SEGMENT_BYTES="256")
    recorder = factory.application_recorder()
    expected = [_event(oid, v, size=50) for v in range(1, 41)]
    for event in expected:
        recorder.insert_events([event])
    factory.close()
    assert len(_segments(store)) > 5
    assert expected == list(open_store(store).application_recorder().select_events(oid))


def test_one_process_cannot_open_a_store_with_two_fsync_policies(
    open_store: OpenStore, tmp_path: Path
) -> None:
    open_store(tmp_path / "store", VMCORE_FSYNC="always")
    with pytest.raises(FileStoreError, match="already open in this process"):
        open_store(tmp_path / "store", VMCORE_FSYNC="none")


def test_configuration_honours_application_prefix(open_store: OpenStore, tmp_path: Path) -> None:
    env = Environment(
        "ControlPlane",
        {
            "VMCORE_FILE_STORE_PATH": str(tmp_path / "plain"),
            "CONTROLPLANE_VMCORE_FILE_STORE_PATH": str(tmp_path / "prefixed"),
            "CONTROLPLANE_VMCORE_FSYNC": "group",
        },
    )
    factory = FileInfrastructureFactory(env)
    try:
        assert (str(tmp_path / "prefixed"), FsyncPolicy.GROUP) == (
            factory.store.path,
            factory.store.policy,
        )
    finally:
        factory.close()
    with pytest.raises(OSError, match="CONTROLPLANE_VMCORE_FSYNC"):
        FileInfrastructureFactory(Environment("ControlPlane", {"VMCORE_FSYNC": "sometimes"}))
