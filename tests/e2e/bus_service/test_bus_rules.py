"""Rules over the wire: match_fields with payload keys and RFC 9535 JSONPath, target_trn
patterns, EmitEvent chains to the dead-letter topic, tools from the `vmcore.tools` entry
point and the built-in VM tools, the VM bridge, rules persisting with the instance."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bus_service.harness import ROOT, BusServer, RpcFailure
from tests.e2e.cli_runner import vmcore
from vmcore.bus.client import BlockingBusClient

pytestmark = pytest.mark.timeout(180)


def install_demo_tools(target: Path) -> None:
    """A distribution on sys.path with tools under the `vmcore.tools` entry point group."""
    target.mkdir()
    (target / "bus_demo_tools.py").write_text(textwrap.dedent("""
        def shout(tool_input, event):
            return {"upper": tool_input["text"].upper(), "trigger": event["event_id"]}

        def broken(tool_input, event):
            raise RuntimeError("the tool broke")
    """))
    info = target / "bus_demo_tools-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bus-demo-tools\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[vmcore.tools]\ntrn:tool:demo:shout = bus_demo_tools:shout\n"
        "trn:tool:demo:broken = bus_demo_tools:broken\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusServer]:
    work = tmp_path_factory.mktemp("rules")
    install_demo_tools(work / "plugins")
    store = f"sqlite:{work / 'vms.sqlite'}"
    created = vmcore("--store", store, "vm", "create", "--name", "web-1", cwd=work)
    assert 0 == created.returncode, created.stderr
    config = [{"id": "rules", "persist": True, "storage_path": str(work / "rules.db"),
               "enable_rules": True, "max_rule_depth": 3, "max_concurrency": 2,
               "vm_store": store, "vm_bridge": True},
              {"id": "plain", "enable_rules": False}]
    env = {"PYTHONPATH": f"{ROOT}:{work / 'plugins'}"}
    with BusServer(config, work, env=env) as running:
        yield running


@pytest.fixture
def client(server: BusServer) -> Iterator[BlockingBusClient]:
    with BlockingBusClient(server.url("rules")) as opened:
        yield opened


def emit_action(topic: str, payload: Any = None) -> dict[str, Any]:
    return {"EmitEvent": {"topic": topic, "payload": payload}}


def take(events: Iterator[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    return [next(events) for _ in range(count)]


def test_match_fields_jsonpath_and_target_patterns(client: BlockingBusClient) -> None:
    client.register_rule({"id": "big", "topic": "order.*", "match_fields": {"kind": "big"},
                          "action": emit_action("alert.big", {"why": "big"})})
    client.register_rule({"id": "bulk", "topic": "order.*",
                          "match_fields": {"$.payload.items[?@.qty > 5].sku": "A"},
                          "action": emit_action("alert.bulk")})
    client.register_rule({"id": "on-vm", "topic": "order.*", "target_trn": "trn:vm:*",
                          "action": emit_action("alert.vm")})
    alerts = client.subscribe("alert.*", timeout=30)
    small = client.emit("order.placed", {"kind": "small", "items": [{"sku": "A", "qty": 1}]},
                        target_trn="trn:user:bob")
    first = client.emit("order.placed", {"kind": "big", "items": [{"sku": "A", "qty": 9}]},
                        target_trn="trn:vm:web-1", correlation_id="c-1")
    derived = take(alerts, 3)
    assert {"alert.big", "alert.bulk", "alert.vm"} == {e["topic"] for e in derived}
    assert {"c-1"} == {e["correlation_id"] for e in derived}
    assert {first["event_id"]} == {e["metadata"]["vmcore"]["trigger_event_id"] for e in derived}
    assert {f"trn:bus:rules:rule:{r}" for r in ("big", "bulk", "on-vm")} == {
        e["source_trn"] for e in derived}
    last = client.emit("order.placed", {"kind": "big"})
    assert last["event_id"] == take(alerts, 1)[0]["metadata"]["vmcore"]["trigger_event_id"]
    triggers = {e["metadata"]["vmcore"]["trigger_event_id"]
                for e in client.poll("alert.*")["events"]}
    assert small["event_id"] not in triggers
    for rule_id in ("big", "bulk", "on-vm"):
        client.delete_rule(rule_id)


def test_rule_chains_stop_at_the_depth_limit_in_the_dead_letter_topic(
        client: BlockingBusClient) -> None:
    client.register_rule({"id": "loop", "topic": "loop.t", "action": emit_action("loop.t")})
    dead = client.subscribe("bus.dead_letter", timeout=30)
    start = client.emit("loop.t", {"n": 0}, correlation_id="chain")
    letter = next(dead)
    assert "loop" == letter["payload"]["rule_id"]
    assert "chain" == letter["correlation_id"]
    chain = client.poll("loop.t", since=start["event_id"] - 1)["events"]
    assert [0, 1, 2, 3] == [e["metadata"]["vmcore"]["depth"] if e["metadata"] else 0
                            for e in chain]
    client.delete_rule("loop")


def test_tools_from_entry_points_report_results_and_errors(client: BlockingBusClient) -> None:
    client.register_rule({"id": "shout", "topic": "say", "action": {
        "InvokeTool": {"tool_id": "trn:tool:demo:shout", "input": {"text": "hi"}}}})
    client.register_rule({"id": "broken", "topic": "say", "action": {
        "InvokeTool": {"tool_id": "trn:tool:demo:broken", "input": None}}})
    client.register_rule({"id": "missing", "topic": "say", "action": {
        "InvokeTool": {"tool_id": "trn:tool:demo:absent", "input": None}}})
    reports = client.subscribe("bus.tool.*", timeout=30)
    said = client.emit("say", {}, correlation_id="c-tools")
    got = {e["payload"]["tool_id"]: e for e in take(reports, 3)}
    shout = got["trn:tool:demo:shout"]
    assert ("bus.tool.result", {"upper": "HI", "trigger": said["event_id"]}) == (
        shout["topic"], shout["payload"]["result"])
    assert "the tool broke" in got["trn:tool:demo:broken"]["payload"]["error"]
    assert "no tool" in got["trn:tool:demo:absent"]["payload"]["error"]
    assert {"c-tools"} == {e["correlation_id"] for e in got.values()}
    for rule_id in ("shout", "broken", "missing"):
        client.delete_rule(rule_id)


def test_a_rule_starts_a_vm_and_the_bridge_shows_it(client: BlockingBusClient) -> None:
    client.register_rule({"id": "starter", "topic": "ops.start", "target_trn": "trn:vm:*",
                          "action": {"InvokeTool": {"tool_id": "trn:tool:vmcore:start-vm",
                                                    "input": None}}})
    fleet = client.subscribe("vm.started", timeout=30)
    results = client.subscribe("bus.tool.*", timeout=30)
    client.emit("ops.start", {}, target_trn="trn:vm:web-1")
    report = next(results)
    assert ("bus.tool.result", "running") == (report["topic"],
                                              report["payload"]["result"]["state"])
    started = next(fleet)
    assert "trn:vm:web-1" == started["target_trn"]
    topics = [e["topic"] for e in client.poll("vm.*")["events"]]
    assert ["vm.created", "vm.started"] == [t for t in topics if t in ("vm.created",
                                                                         "vm.started")]
    client.delete_rule("starter")


def test_rules_persist_with_the_instance_and_need_rules_enabled(server: BusServer) -> None:
    rule = {"id": "keep", "topic": "keep.t", "match_fields": {"$.source_trn": "trn:user:a"},
            "action": emit_action("kept")}
    with BlockingBusClient(server.url("rules")) as client:
        client.register_rule(rule)
    server.stop()
    server.start()
    store = server.config[0]["vm_store"]
    created = vmcore("--store", store, "vm", "create", "--name", "web-2", cwd=server.workdir)
    assert 0 == created.returncode, created.stderr
    with BlockingBusClient(server.url("rules")) as client:
        fleet = client.subscribe("vm.created", timeout=30)
        names = [e["payload"]["name"] for e in client.poll("vm.created")["events"]]
        if "web-2" not in names:  # the bridge has not republished it yet
            names.append(next(fleet)["payload"]["name"])
        assert ["web-1", "web-2"] == names  # after the restart: each VM event once
        assert [rule | {"match_fields": rule["match_fields"]}] == [
            r for r in client.list_rules() if r["id"] == "keep"]
        client.delete_rule("keep")
        assert [] == [r for r in client.list_rules() if r["id"] == "keep"]
    with server.client("plain") as plain, pytest.raises(RpcFailure) as refused:
        plain.call("register_rule", rule)
    assert -32005 == refused.value.code


def test_bad_rules_are_refused_with_the_reason(server: BusServer) -> None:
    with server.client("rules") as client:
        for bad, words in (
                ({"id": "x", "topic": "t", "match_fields": {"$[": 1},
                  "action": emit_action("t")}, "JSONPath"),
                ({"id": "x", "topic": "t", "action": {"Launch": {}}}, "EmitEvent"),
                ({"id": "x", "topic": "t", "action": {"InvokeTool": {"tool_id": "nope"}}},
                 "TRN"),
                ({"id": "", "topic": "t", "action": emit_action("t")}, "id")):
            with pytest.raises(RpcFailure) as refused:
                client.call("register_rule", bad)
            assert (-32602, True) == (refused.value.code, words in refused.value.data)
