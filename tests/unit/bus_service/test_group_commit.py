"""Group commit in a durable bus instance, on a real SQLite log (WAL, synchronous FULL): emits
that queue while a commit is in flight share the next transaction; every emit is answered
after its transaction committed, in order per emitter; a failed transaction fails every emit
in it and loses nothing acknowledged."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmcore.application.bus_service import BusInstance, RpcError, parse_config
from vmcore.application.bus_service.errors import STORAGE_FAILED
from vmcore_event_store.bus_log import Firing, LogQuery, NewEvent, StoredEvent
from vmcore_event_store.bus_log.sqlite import SQLiteBusLog


class WatchedLog(SQLiteBusLog):
    """SQLite, with each append's size recorded; the first append waits for ``gate`` (so
    the emits after it queue up), and the append numbered ``fail_append`` stores one bad row
    at ``fail_at``, which makes SQLite roll the whole transaction back."""

    def __init__(self, path: Path, fail_append: int | None = None, fail_at: int = 0) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.sizes: list[int] = []
        self.fail_append = fail_append
        self.fail_at = fail_at

    def append(self, events: Sequence[NewEvent], *, firing: Firing | None = None,
               cursor: tuple[str, int] | None = None) -> list[StoredEvent] | None:
        number = len(self.sizes)
        self.sizes.append(len(events))
        if number == 0:
            self.entered.set()
            self.gate.wait(30)
        if number == self.fail_append:
            events = list(events)
            bad = events[min(self.fail_at, len(events) - 1)]
            events[min(self.fail_at, len(events) - 1)] = NewEvent(
                topic=bad.topic, payload=None, timestamp=bad.timestamp)  # type: ignore[arg-type]
        return super().append(events, firing=firing, cursor=cursor)


def instance_on(log: SQLiteBusLog) -> BusInstance:
    config = parse_config([{"id": "g", "listen": "127.0.0.1:0", "persist": True,
                            "storage_path": "unused", "queue_size": 4096}])[0]
    return BusInstance(config, log, now_ms=lambda: 7)


def stored_rows(path: Path) -> list[tuple[int, Any]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT event_id, payload FROM event_log ORDER BY event_id").fetchall()
    return [(event_id, orjson.loads(payload)) for event_id, payload in rows]


async def emit_all(instance: BusInstance, log: WatchedLog, emitters: int, each: int
                   ) -> list[list[dict[str, Any] | RpcError]]:
    """Emitter 0 sends one emit, held in the first commit; then every emitter sends
    ``each`` emits one after the other, as connections do; then the gate opens."""

    async def emitter(worker: int, count: int) -> list[dict[str, Any] | RpcError]:
        answers: list[dict[str, Any] | RpcError] = []
        for n in range(count):
            try:
                answers.append(await instance.emit(
                    {"topic": "g", "payload": {"worker": worker, "n": n}}))
            except RpcError as error:
                answers.append(error)
        return answers

    first = asyncio.create_task(instance.emit({"topic": "g", "payload": "first"}))
    await asyncio.to_thread(log.entered.wait, 30)
    tasks = [asyncio.create_task(emitter(w, each)) for w in range(emitters)]
    while instance.queued < 1 + emitters:  # each emitter's first emit waits for storage
        await asyncio.sleep(0)
    log.gate.set()
    results = await asyncio.gather(*tasks)
    assert {"event_id": 1, "timestamp": 7} == await first
    return results


def test_concurrent_emits_share_commits_and_all_are_stored_in_order(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    log = WatchedLog(path)

    async def scenario() -> list[list[dict[str, Any] | RpcError]]:
        instance = instance_on(log)
        await instance.start()
        try:
            return await emit_all(instance, log, emitters=16, each=20)
        finally:
            await instance.close()

    results = asyncio.run(scenario())
    acknowledged = {answer["event_id"]: {"worker": w, "n": n}
                    for w, answers in enumerate(results)
                    for n, answer in enumerate(answers) if isinstance(answer, dict)}
    assert 16 * 20 == len(acknowledged)
    for answers in results:  # one emitter's events are stored in the order it sent them
        ids = [answer["event_id"] for answer in answers if isinstance(answer, dict)]
        assert sorted(ids) == ids
    assert [(1, "first"), *sorted(acknowledged.items())] == stored_rows(path)
    # the 16 emits queued behind the first commit went in one transaction, and no commit
    # held more than one emit per emitter (each waits for its answer before the next)
    assert [1, 16] == log.sizes[:2]
    assert all(size <= 16 for size in log.sizes)
    assert 1 + 16 * 20 == sum(log.sizes)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(emitters=st.integers(2, 12), each=st.integers(1, 4), fail_at=st.integers(0, 11))
def test_a_failed_group_fails_each_of_its_emits_and_loses_nothing_acknowledged(
        tmp_path_factory: Any, emitters: int, each: int, fail_at: int) -> None:
    path = tmp_path_factory.mktemp("group") / "bus.db"
    log = WatchedLog(path, fail_append=1, fail_at=fail_at)  # the group after the first

    async def scenario() -> list[list[dict[str, Any] | RpcError]]:
        instance = instance_on(log)
        await instance.start()
        try:
            return await emit_all(instance, log, emitters, each)
        finally:
            await instance.close()

    results = asyncio.run(scenario())
    failed = [(w, n) for w, answers in enumerate(results)
              for n, answer in enumerate(answers) if isinstance(answer, RpcError)]
    # exactly the group of the failed transaction (each emitter's first emit) failed, with
    # the storage error; the emitters' later emits were stored
    assert [(w, 0) for w in range(emitters)] == failed
    assert {STORAGE_FAILED} == {answer.code for answers in results for answer in answers
                                if isinstance(answer, RpcError)}
    acknowledged = sorted((answer["event_id"], {"worker": w, "n": n})
                          for w, answers in enumerate(results)
                          for n, answer in enumerate(answers) if isinstance(answer, dict))
    assert [(1, "first"), *acknowledged] == stored_rows(path)
    assert emitters == log.sizes[1]


def test_storage_calls_run_after_the_emits_queued_before_them(tmp_path: Path) -> None:
    log = WatchedLog(tmp_path / "bus.db")
    log.gate.set()

    async def scenario() -> tuple[list[int], list[int]]:
        instance = instance_on(log)
        await instance.start()
        try:
            emits = [asyncio.create_task(instance.emit({"topic": "o", "payload": n}))
                     for n in range(10)]
            while instance.queued < 10:
                await asyncio.sleep(0)
            seen = await instance.select(LogQuery(limit=100))  # queued after the ten
            answers = await asyncio.gather(*emits)
            return [event.event_id for event in seen], [a["event_id"] for a in answers]
        finally:
            await instance.close()

    seen, acknowledged = asyncio.run(scenario())
    assert list(range(1, 11)) == acknowledged
    assert acknowledged == seen


def test_an_instance_never_started_closes_its_log(tmp_path: Path) -> None:
    log = WatchedLog(tmp_path / "bus.db")
    asyncio.run(instance_on(log).close())
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        log.select(LogQuery())
