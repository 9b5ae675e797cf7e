"""REST v1 against a real `vmcore serve` subprocess, driven by httpx."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.serve.server import Server

PROBLEM = "application/problem+json"


def new_name() -> str:
    return f"vm-{uuid.uuid4().hex[:8]}"


def create(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/vms", json={"name": new_name()} | fields)
    assert 201 == response.status_code, response.text
    document: dict[str, Any] = response.json()
    return document


def assert_problem(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert status == response.status_code, response.text
    assert PROBLEM == response.headers["content-type"]
    problem: dict[str, Any] = response.json()
    assert status == problem["status"]
    for word in words:
        assert word in problem["detail"]
    return problem


def test_create_then_list_and_show(client: httpx.Client) -> None:
    vm = create(client, vcpus=2, memory="256M", arch="x86_64", tags=["web"])
    assert ("created", 1, 2, "256M", "x86_64", ["web"]) == (
        vm["state"], vm["version"], vm["vcpus"], vm["memory"], vm["arch"], vm["tags"])
    names = [item["name"] for item in client.get("/v1/vms").json()]
    assert vm["name"] in names
    by_name = client.get(f"/v1/vms/{vm['name']}")
    by_id = client.get(f"/v1/vms/{vm['id']}")
    assert by_name.json() == by_id.json()
    assert '"1"' == by_name.headers["etag"]


def test_lifecycle_commands_and_past_versions(client: httpx.Client) -> None:
    vm = create(client)
    ref = vm["name"]
    steps = [("start", {}, "running"), ("pause", {"reason": "user"}, "paused"),
             ("snapshot", {"snapshot_id": "s1"}, "paused"), ("resume", None, "running"),
             ("stop", {"force": True}, "stopped"),
             ("restore", {"snapshot_id": "s1"}, "paused"), ("resume", {}, "running"),
             ("migrate", {"destination": "host-b"}, "migrating")]
    for command, body, state in steps:
        response = client.post(f"/v1/vms/{ref}/{command}", json=body)
        assert 200 == response.status_code, response.text
        assert state == response.json()["state"]
    assert "created" == client.get(f"/v1/vms/{ref}", params={"version": 1}).json()["state"]
    assert "running" == client.get(f"/v1/vms/{ref}", params={"version": 2}).json()["state"]
    history = client.get(f"/v1/vms/{ref}/events").json()
    assert ["vm.created", "vm.started", "vm.paused", "vm.snapshot_created", "vm.resumed",
            "vm.stopped", "vm.snapshot_restored", "vm.resumed", "vm.migration_started"] == [
        event["topic"] for event in history]


def test_delete_releases_the_name(client: httpx.Client) -> None:
    vm = create(client)
    assert "deleted" == client.post(f"/v1/vms/{vm['id']}/delete").json()["state"]
    assert_problem(client.get(f"/v1/vms/{vm['name']}"), 404, vm["name"])
    assert vm["name"] not in [item["name"] for item in client.get("/v1/vms").json()]
    assert vm["name"] in [item["name"] for item in
                          client.get("/v1/vms", params={"all": "true"}).json()]
    assert 201 == client.post("/v1/vms", json={"name": vm["name"]}).status_code


def test_if_match_runs_on_that_version_only(client: httpx.Client) -> None:
    vm = create(client)
    stale = client.post(f"/v1/vms/{vm['id']}/start", headers={"If-Match": '"2"'})
    problem = assert_problem(stale, 412, "version 1")
    assert 1 == problem["version"]
    started = client.post(f"/v1/vms/{vm['id']}/start", headers={"If-Match": '"1"'})
    assert 200 == started.status_code
    assert '"2"' == started.headers["etag"]
    assert_problem(client.post(f"/v1/vms/{vm['id']}/pause", headers={"If-Match": "1"}), 412)
    assert_problem(client.post(f"/v1/vms/{vm['id']}/pause", headers={"If-Match": "x"}), 400,
                   "If-Match")


def test_refused_commands_conflict_and_record_nothing(client: httpx.Client) -> None:
    vm = create(client)
    problem = assert_problem(client.post(f"/v1/vms/{vm['id']}/pause"), 409, "cannot pause")
    assert "created" == problem["state"]
    assert_problem(client.post("/v1/vms", json={"name": vm["name"]}), 409, "already exists")
    assert 1 == client.get(f"/v1/vms/{vm['id']}").json()["version"]


def test_events_are_filtered_and_paged_by_position(client: httpx.Client) -> None:
    vm = create(client)
    for command in ("start", "pause", "resume", "pause"):
        assert 200 == client.post(f"/v1/vms/{vm['id']}/{command}").status_code
    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        page = client.get("/v1/events", params={"topic": "vm.paused", "after": after,
                                                "limit": 1}).json()
        seen.extend(page["events"])
        if page["next"] is None:
            break
        after = page["next"]
    mine = [event for event in seen if event["vm_id"] == vm["id"]]
    assert [3, 5] == [event["version"] for event in mine]
    ids = [event["id"] for event in seen]
    assert sorted(set(ids)) == ids
    everything = client.get("/v1/events", params={"trn": f"trn:vm:{vm['name']}"}).json()
    assert 5 == len(everything["events"])
    other = create(client)
    for ref in (vm["name"], vm["id"]):  # by VM, named or by id: its events only, in order
        by_vm = client.get("/v1/events", params={"vm": ref, "topic": "vm.*"}).json()
        assert [1, 2, 3, 4, 5] == [event["version"] for event in by_vm["events"]]
        assert {vm["id"]} == {event["vm_id"] for event in by_vm["events"]}
    assert [1] == [e["version"] for e in client.get(
        "/v1/events", params={"vm": other["name"]}).json()["events"]]


@pytest.mark.parametrize(("body", "status", "word"), [
    (b"{not json", 400, "malformed JSON"),
    (b"[1, 2]", 422, "object"),
    (b'{"name": "x", "vcpus": "2"}', 422, "vcpus"),
    (b'{"name": "x", "colour": "red"}', 422, "colour"),
    (b'{"vcpus": 1}', 422, "name"),
    (b'{"name": "x", "memory": "lots"}', 422, "memory"),
    (b'{"name": "x", "arch": "pdp11"}', 422, "pdp11"),
    (b'{"name": "x", "vcpus": 0}', 422, "vCPU"),
])
def test_bad_bodies_name_the_problem(client: httpx.Client, body: bytes, status: int,
                                     word: str) -> None:
    response = client.post("/v1/vms", content=body, headers={"Content-Type": "application/json"})
    assert_problem(response, status, word)


def test_bad_command_arguments(client: httpx.Client) -> None:
    vm = create(client)
    assert_problem(client.post(f"/v1/vms/{vm['id']}/start", json={"now": True}), 422, "now")
    assert_problem(client.post(f"/v1/vms/{vm['id']}/snapshot", json={}), 422, "snapshot_id")
    assert_problem(client.post(f"/v1/vms/{vm['id']}/stop", json={"force": "yes"}), 422,
                   "force")
    assert_problem(client.post(f"/v1/vms/{vm['id']}/explode"), 404, "explode")
    assert_problem(client.post(f"/v1/vms/{vm['id']}/start", content=b"x=1",
                               headers={"Content-Type": "text/plain"}), 415)


def test_huge_bodies_are_refused(client: httpx.Client) -> None:
    huge = b'{"name": "' + b"a" * (1 << 20) + b'"}'
    assert_problem(client.post("/v1/vms", content=huge,
                               headers={"Content-Type": "application/json"}), 413)

    def chunks() -> Any:
        for _ in range(20):
            yield b" " * 65536  # no Content-Length: the server counts as it reads
    assert_problem(client.post("/v1/vms", content=chunks(),
                               headers={"Content-Type": "application/json"}), 413)
    assert 200 == client.get("/healthz").status_code


@pytest.mark.parametrize("path", ["/v2/vms", "/v1/vm", "/v1/vms/a/b/c", "/etc/passwd",
                                  "/v1/vms/..%2F..%2Fetc%2Fpasswd", "/v1/vms/%2e%2e/start"])
def test_unknown_routes_and_path_tricks(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (404, 405), response.text
    assert PROBLEM == response.headers["content-type"]


@pytest.mark.parametrize(("ref", "status"), [("%00", 400), ("a%0Ab", 400), ("x" * 201, 400),
                                              ("..", 404), ("no-such-vm", 404)])
def test_odd_refs(client: httpx.Client, ref: str, status: int) -> None:
    assert_problem(client.get(f"/v1/vms/{ref}"), status)


def test_bad_query_parameters(client: httpx.Client) -> None:
    vm = create(client)
    assert_problem(client.get(f"/v1/vms/{vm['id']}", params={"version": "x"}), 400, "version")
    assert_problem(client.get(f"/v1/vms/{vm['id']}", params={"version": 9}), 404, "versions 1")
    assert_problem(client.get("/v1/events", params={"limit": 0}), 400, "limit")
    assert_problem(client.get("/v1/events", params={"since": "yesterday"}), 400, "since")
    assert_problem(client.get("/v1/events", params={"trn": "alice"}), 400, "trn")
    assert_problem(client.get("/v1/events", params={"vm": "no-such-vm"}), 404, "no-such-vm")
    assert_problem(client.delete("/v1/vms"), 405)


def test_health_readiness_and_metrics(client: httpx.Client) -> None:
    create(client)
    assert {"status": "ok"} == client.get("/healthz").json()
    ready = client.get("/readyz")
    assert 200 == ready.status_code
    assert ready.json()["position"] >= 1
    text = client.get("/metrics").text
    for family in ("vmcore_http_requests_total", "vmcore_http_request_duration_seconds_bucket",
                   "vmcore_store_append_duration_seconds_count", 'vmcore_vms{state="created"}',
                   "vmcore_bus_published_total", "vmcore_stream_clients"):
        assert family in text
    assert 'route="/v1/vms",status="201"' in text


@pytest.mark.parametrize("sent", [b"", b"GET /v1/vms HTTP/1.1\r\nHost: x\r\n"])
def test_idle_connections_get_408_and_others_are_served(server: Server, client: httpx.Client,
                                                        sent: bytes) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as idle:
        idle.sendall(sent)
        assert 200 == client.get("/healthz").status_code  # meanwhile
        received = b""
        while chunk := idle.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert 408 == json.loads(body)["status"]


def test_correlation_ids_and_the_api_actor(client: httpx.Client) -> None:
    correlation = f"req-{uuid.uuid4().hex}"
    created = client.post("/v1/vms", json={"name": new_name()},
                          headers={"X-Correlation-ID": correlation})
    assert correlation == created.headers["x-correlation-id"]
    started = client.post(f"/v1/vms/{created.json()['id']}/start",
                          headers={"X-Correlation-ID": correlation})
    assert 200 == started.status_code
    found = client.get("/v1/events", params={"correlation": correlation}).json()["events"]
    assert [("vm.created", "trn:api:http"), ("vm.started", "trn:api:http")] == [
        (event["topic"], event["meta"]["actor"]) for event in found]
    assert_problem(client.post(f"/v1/vms/{created.json()['id']}/pause",
                               headers={"X-Correlation-ID": "x" * 201}), 400, "X-Correlation-ID")


def test_domain_services_are_listed_and_restarted(client: httpx.Client) -> None:
    listed = client.get("/v1/services")
    assert 200 == listed.status_code
    states = {service["name"]: service["state"] for service in listed.json()["services"]}
    assert {"lifecycle": "running", "mmu": "running"} == {
        name: states.get(name) for name in ("lifecycle", "mmu")}
    restarted = client.post("/v1/services/lifecycle/restart")
    assert ("lifecycle", "running") == (restarted.json()["name"], restarted.json()["state"])
    assert_problem(client.post("/v1/services/nope/restart"), 404, "nope")
    assert "vmcore_service" in client.get("/metrics").text
