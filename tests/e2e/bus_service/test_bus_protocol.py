"""`vmcore bus serve` as a subprocess, driven over raw sockets with jsonrpcclient and nc."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.e2e.bus_service.harness import BusServer, RawClient, RpcFailure

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusServer]:
    work = tmp_path_factory.mktemp("bus")
    config = [{"id": "global", "persist": True, "storage_path": str(work / "global.db"),
               "enable_rules": True, "allowed_sources": ["trn:user:", "trn:org:"]},
              {"id": "workflow", "persist": False, "subscriber_buffer": 4},
              {"id": "small", "max_connections": 2}]
    with BusServer(config, work) as running:
        yield running


def test_emit_then_poll_by_pattern_with_filters(server: BusServer) -> None:
    with server.client("global") as client:
        first = client.call("emit_event", {"topic": "vm.note", "payload": {"n": 1},
                                           "source_trn": "trn:user:alice",
                                           "target_trn": "trn:vm:web-1",
                                           "correlation_id": "c-42", "timestamp": 1234})
        client.call("emit_event", {"topic": "other.note", "payload": [1, 2],
                                   "source_trn": "trn:org:acme"})
        page = client.call("poll_events", {"topic": "vm.*", "since": first["event_id"] - 1})
        assert [{"n": 1}] == [e["payload"] for e in page["events"]]
        event = page["events"][0]
        assert ("trn:user:alice", "trn:vm:web-1", "c-42", 1234) == (
            event["source_trn"], event["target_trn"], event["correlation_id"],
            event["timestamp"])
        assert first["event_id"] == page["next_since"]
        by_corr = client.call("poll_events", {"correlation_id": "c-42"})
        assert [first["event_id"]] == [e["event_id"] for e in by_corr["events"]]
        by_source = client.call("poll_events", {"source_trn": "trn:org:"})
        assert all(e["source_trn"].startswith("trn:org:") for e in by_source["events"])
        topics = {t["topic"]: t for t in client.call("list_topics")["topics"]}
        assert first["event_id"] == topics["vm.note"]["last_event_id"]


def test_a_refused_source_gets_its_own_code_and_the_connection_stays(server: BusServer) -> None:
    with server.client("global") as client:
        with pytest.raises(RpcFailure) as refused:
            client.call("emit_event", {"topic": "x", "payload": 1, "source_trn": "trn:vm:a"})
        assert -32001 == refused.value.code
        assert "trn:user:" in refused.value.data
        assert "topics" in client.call("list_topics")


@pytest.mark.parametrize(("line", "code"), [
    (b"{not json\n", -32700),
    (b"[]\n", -32600),
    (b'{"jsonrpc": "1.0", "method": "list_topics", "id": 1}\n', -32600),
    (b'{"jsonrpc": "2.0", "method": "list_topics", "id": [1]}\n', -32600),
    (b'{"jsonrpc": "2.0", "method": "nope", "id": 1}\n', -32601),
    (b'{"jsonrpc": "2.0", "method": "emit_event", "params": {"topic": ""}, "id": 1}\n',
     -32602),
    (b'{"jsonrpc": "2.0", "method": "poll_events", "params": [1], "id": 1}\n', -32602),
    (b'{"jsonrpc": "2.0", "method": "poll_events", "params": {"limit": -1}, "id": 1}\n',
     -32602),
])
def test_standard_errors_never_close_the_connection(server: BusServer, line: bytes,
                                                    code: int) -> None:
    with server.client("workflow") as client:
        client.send_raw(line)
        answer = client.recv()
        assert code == answer["error"]["code"]
        assert "data" in answer["error"]
        assert [] == client.call("list_rules")["rules"]


def test_batches_answer_requests_only_and_notifications_get_nothing(server: BusServer) -> None:
    with server.client("workflow") as client:
        client.send([{"jsonrpc": "2.0", "method": "emit_event",
                      "params": {"topic": "batch.t", "payload": 1}},  # a notification
                     {"jsonrpc": "2.0", "method": "list_rules", "id": "a"},
                     {"jsonrpc": "2.0", "method": "nope", "id": "b"},
                     5])
        answers = client.recv()
        assert ["a", "b", None] == [a["id"] for a in answers]
        assert [-32601, -32600] == [a["error"]["code"] for a in answers[1:]]
        client.send({"jsonrpc": "2.0", "method": "list_rules"})  # notification: no answer
        client.send([{"jsonrpc": "2.0", "method": "list_rules"}])  # all-notification batch
        page = client.call("poll_events", {"topic": "batch.t"})
        assert [1] == [e["payload"] for e in page["events"]]


def test_a_line_over_one_mib_is_refused_and_closes_only_that_connection(
        server: BusServer) -> None:
    with server.client("workflow") as big, server.client("workflow") as other:
        payload = "x" * (1 << 20)
        big.send_raw(orjson.dumps({"jsonrpc": "2.0", "method": "emit_event", "id": 1,
                                   "params": {"topic": "big", "payload": payload}}) + b"\n")
        assert -32007 == big.recv()["error"]["code"]
        assert big.closed_by_server()
        assert "topics" in other.call("list_topics")
        near = "y" * ((1 << 20) - 200)
        assert other.call("emit_event", {"topic": "big", "payload": near})["event_id"] > 0


def test_nc_is_a_client_too(server: BusServer) -> None:
    host, port = server.addresses["workflow"]
    request = b'{"jsonrpc": "2.0", "method": "emit_event", "params": {"topic": "nc.t",' \
              b' "payload": {"via": "nc"}}, "id": 7}\n'
    done = subprocess.run(["nc", "-N", host, str(port)], input=request,
                          capture_output=True, timeout=30, check=True)
    answer = orjson.loads(done.stdout.splitlines()[0])
    assert 7 == answer["id"]
    assert answer["result"]["event_id"] > 0


def test_subscribers_get_pushes_in_order_and_unsubscribe(server: BusServer) -> None:
    with server.client("workflow") as watcher, server.client("workflow") as emitter:
        subscription = watcher.call("subscribe_topic", {"topic": "push.*"})["subscription_id"]
        ids = [emitter.call("emit_event", {"topic": f"push.{n}", "payload": n})["event_id"]
               for n in range(5)]
        emitter.call("emit_event", {"topic": "elsewhere", "payload": 0})
        pushed = [watcher.recv() for _ in ids]
        assert {"event"} == {p["method"] for p in pushed}
        assert ids == [p["params"]["event"]["event_id"] for p in pushed]
        assert {subscription} == {p["params"]["subscription_id"] for p in pushed}
        assert {"unsubscribed": subscription} == watcher.call(
            "unsubscribe_topic", {"subscription_id": subscription})
        with pytest.raises(RpcFailure) as unknown:
            watcher.call("unsubscribe_topic", {"subscription_id": subscription})
        assert -32003 == unknown.value.code


def test_a_slow_subscriber_is_dropped_with_a_notice_and_never_blocks_others(
        server: BusServer) -> None:
    host, port = server.addresses["workflow"]
    slow_sock = socket.socket()
    slow_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow_sock.settimeout(20)
    slow_sock.connect((host, port))
    with RawClient((host, port)) as fast, server.client("workflow") as emitter:
        slow_sock.sendall(b'{"jsonrpc":"2.0","method":"subscribe_topic",'
                          b'"params":{"topic":"flood"},"id":1}\n')
        fast.call("subscribe_topic", {"topic": "flood"})
        payload = "z" * 100_000
        count = 120  # 12 MB: more than the socket buffers and the slow one's 4 buffered events
        for n in range(count):
            emitter.call("emit_event", {"topic": "flood", "payload": {"n": n, "pad": payload}})
            assert n == fast.recv()["params"]["event"]["payload"]["n"]
        reader = slow_sock.makefile("rb")
        methods = []
        while line := reader.readline():
            message = orjson.loads(line)
            methods.append(message.get("method"))
            if message.get("method") == "subscription_dropped":
                assert "poll_events" in message["params"]["reason"]
                break
        assert "subscription_dropped" == methods[-1]
        assert count > methods.count("event")
        reader.close()
    slow_sock.close()


def test_bad_config_is_one_line_naming_bus_and_field(tmp_path: Path) -> None:
    import io

    from tests.e2e.cli_runner import vmcore
    from vmcore.entrypoints.cli import main

    cases = {
        '[{"id": "g", "listen": "0.0.0.0:4010"}]': "bus 'g': field 'listen'",
        '[{"id": "g", "listen": "127.0.0.1:1", "persist": "yes"}]': "bus 'g': field 'persist'",
        '[{"id": "g", "listen": "127.0.0.1:1", "persist": true}]':
            "bus 'g': field 'storage_path'",
        '[{"id": "g", "listen": "127.0.0.1:1", "colour": 1}]': "bus 'g': field 'colour'",
        '[{"listen": "127.0.0.1:1"}]': "bus #1: field 'id'",
        '[{"id": "g", "listen": "127.0.0.1:9"}, {"id": "g", "listen": "127.0.0.1:8"}]':
            "bus 'g': field 'id'",
        '[{"id": "g", "listen": "127.0.0.1:0", "persist": true, "storage_path": "/proc/x/y"}]':
            "bus 'g': field 'storage_path'",
    }
    for number, (text, expected) in enumerate(cases.items()):
        path = tmp_path / "buses.json"
        path.write_text(text)
        if number == 0:  # once as a user runs it, the rest in-process
            done = vmcore("bus", "serve", "--config", str(path), cwd=tmp_path)
            status, stderr = done.returncode, done.stderr
        else:
            err = io.StringIO()
            status = main(["bus", "serve", "--config", str(path)], out=io.StringIO(), err=err)
            stderr = err.getvalue()
        assert (1, 1) == (status, len(stderr.splitlines())), stderr
        assert expected in stderr
        assert "Traceback" not in stderr


def test_connections_beyond_the_limit_are_refused_and_others_kept(server: BusServer) -> None:
    with server.client("small") as first, server.client("small") as second:
        assert "topics" in first.call("list_topics")
        with server.client("small") as third:
            assert -32008 == third.recv()["error"]["code"]
            assert third.closed_by_server()
        assert "topics" in second.call("list_topics")
    # a closed connection frees its place once the server has read its end (the new
    # connection may be accepted in the same loop turn, before that): retry until then
    deadline = time.monotonic() + 30
    while True:
        with server.client("small") as again:
            try:
                assert "topics" in again.call("list_topics")
                break
            except RpcFailure as refused:
                assert (-32008, True) == (refused.code, time.monotonic() < deadline)


def test_the_asyncio_client(server: BusServer) -> None:
    import asyncio

    from vmcore.bus.client import BusClient, BusRpcError

    async def scenario() -> tuple[list[int], list[int], int]:
        client = await BusClient.connect(server.url("workflow"))
        subscription = await client.subscribe("async.*")
        emitted = [(await client.emit("async.t", n))["event_id"] for n in range(3)]
        pushed = []
        async for event in subscription:
            pushed.append(event["event_id"])
            if len(pushed) == 3:
                break
        await subscription.unsubscribe()
        try:
            await client.call("delete_rule", {"id": "none"})
        except BusRpcError as error:
            code = error.code
        await client.close()
        return emitted, pushed, code

    emitted, pushed, code = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert (emitted, -32005) == (pushed, code)


def test_the_blocking_client_is_subscribed_when_subscribe_returns(server: BusServer) -> None:
    """Events emitted between ``subscribe()`` and the first ``next()`` are pushed too (the
    subscription was once sent only at the first ``next()``, and they were lost)."""
    from vmcore.bus.client import BlockingBusClient

    with BlockingBusClient(server.url("workflow")) as client:
        pushed = client.subscribe("blocking.*", timeout=20)
        emitted = [client.emit("blocking.t", n)["event_id"] for n in range(2)]
        assert emitted == [next(pushed)["event_id"] for _ in emitted]
