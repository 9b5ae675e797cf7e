"""The file store's record framing and in-memory index, without touching a disk."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent, Tracking
from hypothesis import given
from hypothesis import strategies as st

from vmcore_event_store.file.framing import Commit, TailState, encode_commit, encode_seal, scan
from vmcore_event_store.file.index import LogIndex

_oids = st.uuids() | st.text(min_size=1, max_size=20)
_notification = st.builds(
    Notification,
    originator_id=_oids,
    originator_version=st.integers(-(2**63), 2**63 - 1),
    topic=st.text(max_size=30),
    state=st.binary(max_size=200),
    id=st.integers(1, 2**63),
)
_tracking = st.none() | st.builds(
    Tracking, application_name=st.text(max_size=20), notification_id=st.integers(0, 2**63)
)
_commits = st.lists(
    st.builds(Commit, notifications=st.lists(_notification, max_size=4), tracking=_tracking),
    min_size=1,
    max_size=5,
)


def _frames(commits: list[Commit]) -> list[bytes]:
    return [encode_commit(c.notifications, c.tracking) for c in commits]


@given(_commits)
def test_commits_round_trip_through_frames(commits: list[Commit]) -> None:
    result = scan(b"".join(_frames(commits)))
    assert (commits, TailState.CLEAN, False) == (result.commits, result.tail, result.sealed)


@given(_commits, st.data())
def test_a_cut_anywhere_is_a_torn_tail_after_the_last_whole_record(
    commits: list[Commit], data: st.DataObject
) -> None:
    frames = _frames(commits)
    buffer = b"".join(frames)
    cut = data.draw(st.integers(0, len(buffer) - 1))
    ends = [sum(len(f) for f in frames[: i + 1]) for i in range(len(frames))]
    whole = [end for end in ends if end <= cut]
    result = scan(buffer[:cut])
    assert len(whole) == len(result.commits)
    assert (whole[-1] if whole else 0) == result.end
    assert (TailState.TORN if cut not in [0, *whole] else TailState.CLEAN) == result.tail


@given(_commits, st.data())
def test_a_flipped_byte_is_corruption_not_a_torn_tail(
    commits: list[Commit], data: st.DataObject
) -> None:
    buffer = bytearray(b"".join(_frames(commits)) + encode_seal())
    flip = data.draw(st.integers(0, len(buffer) - 1))
    buffer[flip] ^= data.draw(st.integers(1, 255))
    result = scan(bytes(buffer))
    assert TailState.CORRUPT == result.tail
    assert result.end <= flip


def _notifications(versions: list[tuple[int, int]]) -> list[Notification]:
    return [
        Notification(UUID(int=oid), version, "t", b"s", i + 1)
        for i, (oid, version) in enumerate(versions)
    ]


@given(
    st.lists(st.tuples(st.integers(1, 3), st.integers(0, 20)), unique=True, max_size=30),
    st.integers(1, 3),
    st.none() | st.integers(-1, 21),
    st.none() | st.integers(-1, 21),
    st.booleans(),
    st.none() | st.integers(1, 5),
)
def test_select_events_matches_a_simple_model(
    versions: list[tuple[int, int]],
    oid: int,
    gt: int | None,
    lte: int | None,
    desc: bool,
    limit: int | None,
) -> None:
    index = LogIndex()
    for n in _notifications(versions):
        index.apply(Commit([n], None))
    model = sorted(v for o, v in versions if o == oid)
    model = [v for v in model if (gt is None or v > gt) and (lte is None or v <= lte)]
    if desc:
        model.reverse()
    if limit is not None:
        model = model[:limit]
    selected = index.select_events(UUID(int=oid), gt, lte, desc, limit)
    assert model == [e.originator_version for e in selected]
    assert all(type(e) is StoredEvent for e in selected)


@given(st.lists(st.tuples(st.integers(1, 3), st.integers(0, 5)), min_size=1, max_size=10))
def test_check_new_rejects_any_duplicate(versions: list[tuple[int, int]]) -> None:
    index = LogIndex()
    events = [StoredEvent(UUID(int=o), v, "t", b"") for o, v in versions]
    if len(set(versions)) < len(versions):
        try:
            index.check_new(events, set())
        except IntegrityError:
            return
        raise AssertionError("duplicate accepted")
    keys = index.check_new(events, set())
    assert [(str(UUID(int=o)), v) for o, v in versions] == keys
