"""The three event logs behave alike: ids in order, filters, topics, firings once, cursors,
rules; the in-memory one stays bounded. PostgreSQL runs under scripts/with-postgres."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.integration.conftest import create_schema, postgres_conninfo
from vmcore_event_store.bus_log import (
    BusLog,
    Firing,
    LogQuery,
    MemoryBusLog,
    NewEvent,
    open_bus_log,
)


def postgres_dsn() -> str:
    schema = create_schema("bus")
    return f"{postgres_conninfo()} options=-csearch_path={schema}"


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BusLog]:
    if request.param == "memory":
        opened: BusLog = MemoryBusLog(1000)
    elif request.param == "sqlite":
        opened = open_bus_log(True, str(tmp_path / "bus.db"))
    else:
        opened = open_bus_log(True, postgres_dsn())
    yield opened
    opened.close()


def event(topic: str, n: int, **kw: str) -> NewEvent:
    return NewEvent(topic=topic, payload=f'{{"n":{n}}}', timestamp=1000 + n, **kw)


def test_append_select_and_filters(log: BusLog) -> None:
    stored = log.append([event("vm.started", 1, source_trn="trn:user:alice",
                               target_trn="trn:vm:a", correlation_id="c1"),
                         event("vm.stopped", 2), event("vmx.other", 3),
                         event("a_b.c", 4)])
    assert stored is not None
    ids = [e.event_id for e in stored]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [1, 2] == [int(e.payload[5]) for e in log.select(LogQuery(topic="vm.*"))]
    assert ids[1:] == [e.event_id for e in log.select(LogQuery(since=ids[0]))]
    assert [ids[0]] == [e.event_id for e in log.select(LogQuery(source_trn="trn:user:"))]
    assert [ids[0]] == [e.event_id for e in log.select(LogQuery(target_trn="trn:vm:a"))]
    assert [ids[0]] == [e.event_id for e in log.select(LogQuery(correlation_id="c1"))]
    assert ids[1:3] == [e.event_id for e in log.select(LogQuery(from_ms=1002, to_ms=1003))]
    assert [] == log.select(LogQuery(topic="a%b.*"))  # LIKE wildcards are escaped
    assert ids[:2] == [e.event_id for e in log.select(LogQuery(limit=2))]
    assert {"vm.started": 1, "vm.stopped": 1, "vmx.other": 1, "a_b.c": 1} == {
        t.topic: t.count for t in log.topics()}
    assert ids[-1] == log.last_event_id()


def test_a_firing_is_stored_once_with_what_it_derived(log: BusLog) -> None:
    firing = Firing("r1", 1)
    assert log.append([event("d", 1)], firing=firing, cursor=("rules", 1)) is not None
    assert log.append([event("d", 2)], firing=firing) is None
    assert (True, 1, 1) == (log.fired(firing), len(log.select(LogQuery(topic="d"))),
                            log.cursor("rules"))
    assert 0 == log.cursor("other")


def test_rules_are_kept(log: BusLog) -> None:
    log.put_rule("b", "{}")
    log.put_rule("a", '{"x":1}')
    log.put_rule("a", '{"x":2}')
    assert [("a", '{"x":2}'), ("b", "{}")] == log.rules()
    assert (True, False) == (log.delete_rule("a"), log.delete_rule("a"))


def test_the_memory_log_is_bounded() -> None:
    log = MemoryBusLog(100)
    for n in range(1000):
        log.append([event("t", n)], firing=Firing("r", n + 1))
    assert len(log.select(LogQuery(limit=1000))) <= 100 + 100 // 8
    assert 1000 == log.last_event_id()
    assert sum(t.count for t in log.topics()) <= 113
    assert not log.fired(Firing("r", 1))


@pytest.mark.postgres
def test_postgres_dsn_is_recognised() -> None:
    opened = open_bus_log(True, postgres_dsn())
    try:
        assert type(opened).__name__ == "PostgresBusLog"
    finally:
        opened.close()
    with pytest.raises(psycopg.OperationalError):
        open_bus_log(True, "host=127.0.0.1 port=1 dbname=x connect_timeout=2")


@pytest.mark.postgres
def test_postgres_log_reconnects_after_the_server_drops_it() -> None:
    opened = open_bus_log(True, postgres_dsn())
    try:
        opened.append([event("t", 1)])
        pid = opened._db.info.backend_pid  # type: ignore[attr-defined]
        with psycopg.connect(postgres_conninfo(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError):
            opened.append([event("t", 2)])
        opened.append([event("t", 3)])
        assert [1, 3] == [int(e.payload[5]) for e in opened.select(LogQuery(topic="t"))]
    finally:
        opened.close()
