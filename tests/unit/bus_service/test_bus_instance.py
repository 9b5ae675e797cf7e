"""A bus instance in-process: a full emit queue makes emitters wait then fail, and config
and rule checks name what is wrong."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmcore.application.bus_service import BusInstance, RpcError, parse_config, parse_rule
from vmcore.application.bus_service.rules import json_equal
from vmcore.application.errors import ConfigurationError
from vmcore_event_store.bus_log import Firing, MemoryBusLog, NewEvent, StoredEvent


class GatedLog(MemoryBusLog):
    """A durable-looking log whose appends wait for ``gate`` (run in the storage thread)."""

    durable = True

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def append(self, events: Sequence[NewEvent], *, firing: Firing | None = None,
               cursor: tuple[str, int] | None = None) -> list[StoredEvent] | None:
        self.entered.set()
        self.gate.wait(30)
        return super().append(events, firing=firing, cursor=cursor)


def config(**fields: Any) -> Any:
    return parse_config([{"id": "t", "listen": "127.0.0.1:0", **fields}])[0]


def test_a_full_queue_makes_emitters_wait_then_fail_clearly() -> None:
    async def scenario() -> tuple[RpcError, list[dict[str, Any]]]:
        log = GatedLog()
        instance = BusInstance(config(queue_size=2, emit_wait_ms=0), log, now_ms=lambda: 7)
        await instance.start()
        first = asyncio.create_task(instance.emit({"topic": "t", "payload": 1}))
        await asyncio.to_thread(log.entered.wait, 30)  # the writer holds the first
        second = asyncio.create_task(instance.emit({"topic": "t", "payload": 2}))
        while instance.queued < 2:  # the one being stored counts too
            await asyncio.sleep(0)
        with pytest.raises(RpcError) as refused:
            await instance.emit({"topic": "t", "payload": 3})
        log.gate.set()
        results = [await first, await second]
        await instance.close()
        return refused.value, results

    refused, results = asyncio.run(scenario())
    assert (-32002, True) == (refused.code, "emit queue" in refused.data)
    assert [{"event_id": 1, "timestamp": 7}, {"event_id": 2, "timestamp": 7}] == results



@pytest.mark.parametrize("steps", range(4))
def test_close_ends_a_publisher_woken_in_the_same_loop_step(steps: int) -> None:
    """The last emit wakes the publisher as close() cancels it: close must still return.

    On Python 3.11 ``asyncio.wait_for`` drops a cancel when the awaited thing finishes in that
    step, so with 0 or 1 steps between the wake and close() the publisher polled on forever.
    """
    async def scenario() -> bool:
        log = GatedLog()
        log.gate.set()
        instance = BusInstance(config(), log, now_ms=lambda: 7)
        await instance.start()
        for _ in range(3):  # the publisher reaches its timed wait
            await asyncio.sleep(0)
        instance._wake.set()
        for _ in range(steps):
            await asyncio.sleep(0)
        closing = asyncio.create_task(instance.close())
        done, _ = await asyncio.wait([closing], timeout=10)  # a guard against a hang
        for task in instance._tasks:  # so a failing run still ends
            task.cancel()
        await asyncio.wait([closing], timeout=10)
        return closing in done

    assert asyncio.run(scenario())

@pytest.mark.parametrize(("entry", "words"), [
    ({"id": "a b", "listen": "127.0.0.1:1"}, "bus 'a b': field 'id'"),
    ({"listen": "127.0.0.1:1"}, "bus #1: field 'id'"),
    ({"id": "a", "listen": "nowhere"}, "bus 'a': field 'listen'"),
    ({"id": "a", "listen": "10.0.0.1:80"}, "allow_remote"),
    ({"id": "a", "listen": "127.0.0.1:1", "max_concurrency": 0}, "'max_concurrency'"),
    ({"id": "a", "listen": "127.0.0.1:1", "allowed_sources": ["user:"]}, "'allowed_sources'"),
    ({"id": "a", "listen": "127.0.0.1:1", "vm_bridge": True}, "'vm_store'"),
])
def test_config_mistakes_name_bus_and_field(entry: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_config([entry])
    assert words in str(error.value)
    assert 1 == len(str(error.value).splitlines())


def test_remote_listen_needs_allow_remote_and_seed_example_parses() -> None:
    assert "0.0.0.0" == parse_config([{"id": "a", "listen": "0.0.0.0:1",
                                       "allow_remote": True}])[0].host
    seed = [{"id": "global", "listen": "127.0.0.1:4010", "persist": True,
             "storage_path": "data/global.db", "enable_rules": True,
             "allowed_sources": ["trn:user:", "trn:org:"], "max_concurrency": 8},
            {"id": "workflow", "listen": "127.0.0.1:4011", "persist": False,
             "enable_rules": False}]
    parsed = parse_config(seed)
    assert [("global", 4010, ("trn:user:", "trn:org:")), ("workflow", 4011, ())] == [
        (b.id, b.port, b.allowed_sources) for b in parsed]


def stored(payload: Any, **fields: Any) -> StoredEvent:
    base = {"event_id": 1, "topic": "vm.x", "payload": orjson.dumps(payload).decode(),
            "timestamp": 5, "metadata": None, "source_trn": None, "target_trn": None,
            "correlation_id": None}
    return StoredEvent(**(base | fields))


def test_rule_matching() -> None:
    rule = parse_rule({"id": "r", "topic": "vm.*", "target_trn": "trn:vm:*",
                       "match_fields": {"state": "up", "$.payload.cpu[?@ > 90]": 95},
                       "action": {"EmitEvent": {"topic": "alert", "payload": None}}})
    hit = stored({"state": "up", "cpu": [10, 95]}, target_trn="trn:vm:a")
    assert rule.matches(hit)
    assert not rule.matches(stored({"state": "up", "cpu": [95]}, target_trn="trn:user:a"))
    assert not rule.matches(stored({"state": "up", "cpu": [95]}))
    assert not rule.matches(stored({"state": "down", "cpu": [95]}, target_trn="trn:vm:a"))
    assert not rule.matches(stored({"state": "up", "cpu": [91]}, target_trn="trn:vm:a"))
    assert not rule.matches(stored([1], target_trn="trn:vm:a"))
    assert not rule.matches(stored({"state": "up", "cpu": [95]}, topic="vmx.x",
                                   target_trn="trn:vm:a"))


json_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
                | st.text(max_size=5))


@given(left=json_scalars, right=json_scalars)
def test_json_equal_is_json_equality(left: Any, right: Any) -> None:
    assert (orjson.dumps(left) == orjson.dumps(right)) == json_equal(left, right)


def test_rule_executions_are_bounded_by_max_concurrency() -> None:
    inside = 0
    most = 0
    lock = threading.Lock()
    pair = threading.Barrier(2, timeout=20)  # two must be inside at once, or it breaks

    def tool(tool_input: Any, event: dict[str, Any]) -> Any:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        try:
            pair.wait()
            return event["event_id"]
        finally:
            with lock:
                inside -= 1

    async def scenario() -> list[str]:
        instance = BusInstance(config(enable_rules=True, max_concurrency=2), MemoryBusLog(),
                               tools={"trn:tool:t:pair": tool})
        await instance.start()
        await instance.register_rule({"id": "r", "topic": "go", "action": {
            "InvokeTool": {"tool_id": "trn:tool:t:pair", "input": None}}})
        subscription = instance.subscribe({"topic": "bus.tool.*"})
        for n in range(10):
            await instance.emit({"topic": "go", "payload": n})
        topics = []
        for _ in range(10):
            event = await asyncio.wait_for(subscription.next(), 30)
            assert event is not None
            topics.append(event.topic)
        await instance.close()
        return topics

    assert ["bus.tool.result"] * 10 == asyncio.run(scenario())
    assert 2 == most


def test_a_tool_that_never_answers_becomes_an_error_event() -> None:
    release = threading.Event()

    async def scenario() -> dict[str, Any]:
        instance = BusInstance(config(enable_rules=True, tool_timeout_ms=1), MemoryBusLog(),
                               tools={"trn:tool:t:hang": lambda i, e: release.wait(30)})
        await instance.start()
        await instance.register_rule({"id": "r", "topic": "go", "action": {
            "InvokeTool": {"tool_id": "trn:tool:t:hang", "input": None}}})
        subscription = instance.subscribe({"topic": "bus.tool.*"})
        await instance.emit({"topic": "go", "payload": None})
        event = await asyncio.wait_for(subscription.next(), 30)
        release.set()
        await instance.close()
        assert event is not None
        return {"topic": event.topic, **orjson.loads(event.payload)}

    report = asyncio.run(scenario())
    assert ("bus.tool.error", "trn:tool:t:hang") == (report["topic"], report["tool_id"])
    assert "no answer" in report["error"]
