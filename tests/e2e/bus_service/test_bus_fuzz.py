"""Hypothesis throws random bytes, random JSON and random envelopes at a running server:
each message gets an answer (or, for a line over the limit, that connection is closed), and
a second connection keeps being served throughout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.bus_service.harness import BusServer, RawClient

pytestmark = pytest.mark.timeout(240)
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
trns = st.one_of(st.none(), st.just("trn:user:alice"), st.text(max_size=20),
                 st.builds(lambda a, b: f"trn:{a}:{b}", st.text(min_size=1, max_size=6),
                           st.text(min_size=1, max_size=6)))
envelopes = st.fixed_dictionaries(
    {"topic": st.one_of(st.sampled_from(["vm.a", "fuzz.t", "*", "vm.*", ""]),
                        st.text(max_size=12))},
    optional={"payload": json_values,
              "timestamp": st.one_of(st.integers(-(2**63), 2**63 - 1), json_values),
              "metadata": json_values, "source_trn": trns, "target_trn": trns,
              "correlation_id": st.one_of(st.none(), st.text(max_size=300)),
              "extra": json_values})
methods = st.sampled_from(["emit_event", "poll_events", "list_topics", "register_rule",
                           "list_rules", "delete_rule", "subscribe_topic",
                           "unsubscribe_topic", "nope"])
requests = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "2.0", "1.0", None]), "method": methods,
     "params": st.one_of(envelopes, json_values)},
    optional={"id": st.one_of(st.integers(0, 2**31), st.text(max_size=5), json_values)})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusServer]:
    work = tmp_path_factory.mktemp("fuzz")
    config = [{"id": "mem", "enable_rules": True},
              {"id": "disk", "persist": True, "storage_path": str(work / "disk.db"),
               "allowed_sources": ["trn:user:"]}]
    with BusServer(config, work) as running:
        yield running
        assert "Traceback" not in running.errors()  # nothing reached the internal-error path


@pytest.fixture(scope="module")
def clients(server: BusServer) -> Iterator[dict[str, RawClient]]:
    opened = {bus: server.client(bus) for bus in ("mem", "disk")}
    opened["watch"] = server.client("mem")
    yield opened
    for client in opened.values():
        client.close()


def still_serving(clients: dict[str, RawClient]) -> None:
    assert "topics" in clients["watch"].call("list_topics")


def answered(client: RawClient, line: bytes) -> Any:
    """Send ``line``; the answer that comes for it (None when none is owed)."""
    client.send_raw(line)
    client.send_raw(b'{"jsonrpc": "2.0", "method": "list_rules", "id": "probe"}\n')
    answers = []
    while True:
        answer = client.recv()
        if isinstance(answer, dict) and answer.get("method"):
            continue  # a push from a subscription the fuzz made
        if isinstance(answer, dict) and answer.get("id") == "probe":
            return answers
        answers.append(answer)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes(clients: dict[str, RawClient], data: bytes) -> None:
    line = data.replace(b"\n", b" ") + b"\n"
    answers = answered(clients["mem"], line)
    if line.strip():
        assert 1 == len(answers) or line.lstrip().startswith((b"[", b"{"))
    still_serving(clients)


@FUZZ
@given(value=json_values)
def test_random_json(clients: dict[str, RawClient], value: Any) -> None:
    answers = answered(clients["disk"], orjson.dumps(value) + b"\n")
    for answer in answers:
        items = answer if isinstance(answer, list) else [answer]
        assert all(item["jsonrpc"] == "2.0" and ("error" in item or "result" in item)
                   for item in items)
    still_serving(clients)


@FUZZ
@given(request=st.one_of(requests, st.lists(requests, min_size=1, max_size=5)))
def test_random_requests_and_envelopes(clients: dict[str, RawClient], request: Any) -> None:
    bus = "mem" if isinstance(request, list) else "disk"
    answers = answered(clients[bus], orjson.dumps(request) + b"\n")
    items = [i for a in answers for i in (a if isinstance(a, list) else [a])]
    for item in items:
        if "error" in item:
            assert item["error"]["code"] in {-32700, -32600, -32601, -32602, -32001, -32003,
                                             -32004, -32005}, item
            assert -32603 != item["error"]["code"]
    still_serving(clients)
