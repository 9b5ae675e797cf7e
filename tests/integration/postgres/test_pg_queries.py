"""Indexed event queries on PostgreSQL: the file store's answers, by index, on old tables too.

The same generated events go into a file store and into vmcore's PostgreSQL recorder, and
every generated query must give the same notifications from both (the file store's own
tests check it against a scan). Then ``EXPLAIN`` shows each query shape served by its index
on a table of realistic size, and a table written by eventsourcing's own recorder (no
derived columns) is migrated and backfilled.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import psycopg
import pytest
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import Environment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import create_schema, postgres_conninfo
from vmcore_event_store.postgres import VmcoreApplicationRecorder
from vmcore_event_store.postgres.event_queries import index_definitions, query_statement

pytestmark = pytest.mark.postgres

_T0 = datetime(2026, 12, 1, tzinfo=UTC)
_TOPICS = ("vm:Created", "vm:Started", "vm:Paused", "vm:Stopped")
_OIDS = tuple(uuid.UUID(int=n) for n in range(1, 6))
_TRNS = ("trn:vm:a", "trn:vm:ab", "trn:vm:é", "trn:user:alice", "trn:system:vmcore")
_PREFIXES = (None, "", "trn:", "trn:vm:a", "trn:vm:é", "trn:user:", "trn:zz", "trn:vm:\U0010ffff")
_ZONES = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)))


def _conninfo() -> dict[str, Any]:
    return {k: os.environ[f"POSTGRES_{k.upper()}"]
            for k in ("dbname", "host", "port", "user", "password")}


def _drop(schema: str) -> None:
    with psycopg.connect(postgres_conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def schema() -> Iterator[str]:
    name = create_schema("q")
    yield name
    _drop(name)


def _recorder(schema: str, cls: type[PostgresApplicationRecorder] = VmcoreApplicationRecorder,
              ) -> PostgresApplicationRecorder:
    datastore = PostgresDatastore(schema=schema, pool_size=2, **_conninfo())
    recorder = cls(datastore, events_table_name="events")
    recorder.create_table()
    return recorder


moments = st.builds(
    lambda seconds, micro, zone: (_T0 + timedelta(seconds=seconds, microseconds=micro))
    .astimezone(zone),
    st.integers(0, 60), st.sampled_from([0, 1, 500_000]), st.sampled_from(_ZONES))


@st.composite
def states(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["vmcore", "vmcore", "vmcore", "naive", "no meta", "bytes"]))
    if kind == "bytes":
        return draw(st.sampled_from([b"not json", b"{broken", b"", b"\x00\xff"]))
    moment = draw(moments)
    if kind == "naive":  # eventsourcing's plain JSON transcoder, a time without a zone
        return orjson.dumps({"timestamp": moment.astimezone(UTC).replace(tzinfo=None)
                             .isoformat()})
    stamp = {"_type_": "datetime_iso", "_data_": moment.isoformat()}
    if kind == "no meta":
        return orjson.dumps({"timestamp": stamp})
    meta = {"correlation_id": draw(st.sampled_from(["c1", "c2", "c3"])),
            "actor": draw(st.sampled_from(_TRNS)),
            "source": draw(st.sampled_from([None, *_TRNS])),
            "target": draw(st.sampled_from(_TRNS))}
    return orjson.dumps({"timestamp": stamp, "meta": meta, "reason": "user"})


events = st.lists(st.tuples(st.sampled_from(_OIDS), st.sampled_from(_TOPICS), states()),
                  min_size=20, max_size=80)


def sometimes(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``None`` (no such criterion) two times in three, so queries often match something."""
    return st.integers(0, 2).flatmap(lambda n: strategy if n == 0 else st.none())


queries = st.fixed_dictionaries({
    "topics": st.lists(st.sampled_from(_TOPICS), max_size=3),  # duplicates too
    "originator_id": sometimes(st.sampled_from([*_OIDS, uuid.UUID(int=99)])),
    "since": sometimes(moments),
    "until": sometimes(moments),
    "correlation_id": sometimes(st.sampled_from(["c1", "c2", "nope"])),
    "trn_prefix": sometimes(st.sampled_from(_PREFIXES)),
    "start": st.integers(1, 3) | st.integers(1, 82),
    "limit": st.integers(1, 82),
})


def _key(notifications: Any) -> list[tuple[int, str, int, str, bytes]]:
    return [(n.id, str(n.originator_id), n.originator_version, n.topic, n.state)
            for n in notifications]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(log=events, cuts=st.lists(st.integers(1, 60), max_size=4), data=st.data())
def test_postgres_queries_equal_the_file_stores(
    log: list[tuple[uuid.UUID, str, bytes]], cuts: list[int], data: st.DataObject
) -> None:
    schema = create_schema("q")
    directory = tempfile.mkdtemp(prefix="vmcore-pgq-")
    file_factory = InfrastructureFactory.construct(Environment(env={
        "PERSISTENCE_MODULE": "vmcore_event_store.file",
        "VMCORE_FILE_STORE_PATH": directory, "VMCORE_FSYNC": "none"}))
    postgres = _recorder(schema)
    try:
        file = file_factory.application_recorder()
        versions = dict.fromkeys(_OIDS, 0)
        stored = []
        for oid, topic, state in log:
            versions[oid] += 1
            stored.append(StoredEvent(oid, versions[oid], topic, state))
        bounds = sorted({0, len(stored), *(c for c in cuts if c < len(stored))})
        for low, high in itertools.pairwise(bounds):  # same batches into both
            assert file.insert_events(stored[low:high]) == \
                postgres.insert_events(stored[low:high])
        for _ in range(12):
            query = data.draw(queries)
            expected = file.query_notifications(**query)  # type: ignore[attr-defined]
            actual = postgres.query_notifications(**query)  # type: ignore[attr-defined]
            assert _key(expected) == _key(actual), query
    finally:
        postgres.datastore.close()
        file_factory.close()
        shutil.rmtree(directory, ignore_errors=True)
        _drop(schema)


def test_a_table_of_eventsourcings_recorder_is_migrated_and_backfilled(schema: str) -> None:
    """Old rows get the derived columns on ``create_table``; a row that a writer without them
    adds later is still found (queries check such rows in Python: they never write), and the
    next ``create_table`` fills it in."""
    old = _recorder(schema, PostgresApplicationRecorder)
    oid = uuid.uuid4()

    def event(version: int, correlation: str) -> StoredEvent:
        state = orjson.dumps({"timestamp": (_T0 + timedelta(seconds=version)).isoformat(),
                              "meta": {"correlation_id": correlation, "actor": "trn:user:bo"}})
        return StoredEvent(oid, version, "vm:Started", state)

    def unfilled() -> Any:
        with psycopg.connect(postgres_conninfo()) as conn:
            return conn.execute(
                f"SELECT count(*) FROM {schema}.events WHERE vmcore_fields IS NULL").fetchone()

    old.insert_events([event(1, "a"), event(2, "b"), event(3, "b")])
    new = _recorder(schema)  # the migration: columns, indexes, backfill
    assert (0,) == unfilled()
    assert [2, 3] == [n.id for n in new.query_notifications(correlation_id="b")]  # type: ignore[attr-defined]
    old.insert_events([event(4, "b"), event(5, "c")])  # eventsourcing leaves the columns empty
    found = new.query_notifications(  # type: ignore[attr-defined]
        correlation_id="b", since=_T0 + timedelta(seconds=3), trn_prefix="trn:user:")
    assert [3, 4] == [n.id for n in found]
    first = new.query_notifications(correlation_id="b", limit=2)  # type: ignore[attr-defined]
    assert [2, 3] == [n.id for n in first]
    assert (2,) == unfilled()
    again = _recorder(schema)
    assert (0,) == unfilled()
    with psycopg.connect(postgres_conninfo()) as conn:
        indexes = {row[0] for row in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,))}
    assert set(index_definitions("events")) <= indexes
    for recorder in (old, new, again):
        recorder.datastore.close()


# --- EXPLAIN: each query shape on its index -------------------------------------------------

_ROWS = 40_000
_WEIGHTED_TOPICS = ["vm:Started"] * 60 + ["vm:Stopped"] * 37 + ["vm:Paused"] * 2 + ["vm:Moved"]


def _fill(recorder: PostgresApplicationRecorder) -> list[uuid.UUID]:
    oids = [uuid.UUID(int=n) for n in range(1, 401)]
    versions = dict.fromkeys(oids, 0)
    batch: list[StoredEvent] = []
    for i in range(_ROWS):
        oid = oids[(i * 7919) % len(oids)]
        versions[oid] += 1
        state = orjson.dumps({
            "timestamp": {"_type_": "datetime_iso",
                          "_data_": (_T0 + timedelta(seconds=i)).isoformat()},
            "meta": {"correlation_id": f"c{i // 3}", "actor": f"trn:user:u{i % 5}",
                     "source": None, "target": f"trn:vm:vm-{oid.int}"},
        })
        batch.append(StoredEvent(oid, versions[oid], _WEIGHTED_TOPICS[i % 100], state))
        if len(batch) == 2_000:
            recorder.insert_events(batch)
            batch = []
    return oids


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


_LATE = _T0 + timedelta(seconds=int(_ROWS * 0.97))
_EARLY = _T0 + timedelta(seconds=int(_ROWS * 0.03))
# query -> the index suffixes (see index_definitions) that may serve it
_SHAPES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("every event", {}, {"notification_id"}),
    ("--topic vm.paused", {"topics": ["vm:Paused"]}, {"vmcore_topic"}),
    ("--topic vm.* (every topic)", {"topics": sorted(set(_WEIGHTED_TOPICS))},
     {"vmcore_topic", "notification_id"}),  # a common topic's rows: the id index, filtered
    ("two rare topics", {"topics": ["vm:Paused", "vm:Moved"]}, {"vmcore_topic"}),
    ("--topic vm.paused --since T", {"topics": ["vm:Paused"], "since": _LATE},
     {"vmcore_topic_ts"}),
    ("--topic vm.started --since T", {"topics": ["vm:Started"], "since": _LATE},
     {"vmcore_topic_ts"}),
    ("two topics --until T", {"topics": ["vm:Paused", "vm:Started"], "until": _EARLY},
     {"vmcore_topic_ts"}),
    ("--since T", {"since": _LATE}, {"vmcore_time"}),
    ("--until T", {"until": _EARLY}, {"vmcore_time"}),
    ("--since T --until T2", {"since": _LATE, "until": _LATE + timedelta(seconds=100)},
     {"vmcore_time"}),
    ("one VM", {"originator_id": uuid.UUID(int=7)}, {"pkey"}),
    ("--correlation", {"correlation_id": "c77"}, {"vmcore_corr"}),
    ("--trn trn:vm:vm-123", {"trn_prefix": "trn:vm:vm-123"},
     {"vmcore_actor", "vmcore_source", "vmcore_target"}),
]


def test_each_query_shape_uses_its_index(schema: str) -> None:
    recorder = _recorder(schema)
    _fill(recorder)
    with psycopg.connect(postgres_conninfo(), autocommit=True) as conn:
        conn.execute(f"ANALYZE {schema}.events")
        upper = conn.execute(f"SELECT max(notification_id) FROM {schema}.events").fetchone()
        for name, criteria, allowed in _SHAPES:
            query = query_statement(schema, "events", "uuid", upper=upper[0] if upper else 0,
                                    start=1, limit=100, **criteria)
            assert query is not None
            statement = psycopg.sql.SQL("EXPLAIN (FORMAT JSON) ") + query[0]
            row = conn.execute(statement, query[1]).fetchone()
            assert row is not None
            nodes = list(_plan_nodes(row[0][0]["Plan"]))
            scans = [n["Node Type"] for n in nodes if n["Node Type"].endswith("Scan")]
            used = {n["Index Name"] for n in nodes if "Index Name" in n}
            expected = {idx for idx in _index_names() if any(idx.endswith(f"_{s}_idx")
                        or idx.endswith(f"_{s}") for s in allowed)}
            assert "Seq Scan" not in scans, (name, scans)
            assert used and used <= expected, (name, used, expected)
    recorder.datastore.close()


def _index_names() -> set[str]:
    return {*index_definitions("events"), "events_notification_id_idx", "events_pkey"}

