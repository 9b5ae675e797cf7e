"""Scale-out: two `vmcore serve` processes on one store (PostgreSQL, or a file store shared by
the two processes). Commands go through one, the SSE and WebSocket streams of the other carry
them with the same ids, its `GET /v1/vms` lists them, and a client may resume on either
instance with its Last-Event-ID."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.serve.server import running_server, without_token_env
from tests.e2e.serve.streams import sse_events, ws_events
from tests.e2e.serve.test_streams import all_ids
from tests.integration.conftest import create_schema


@pytest.mark.parametrize("kind", [pytest.param("postgres", marks=pytest.mark.postgres), "file"])
def test_commands_through_one_instance_stream_from_the_other(tmp_path: Path, kind: str) -> None:
    env = without_token_env()
    store = f"file:{tmp_path / 'store'}"
    if kind == "postgres":
        env |= {"POSTGRES_SCHEMA": create_schema("serve")}
        store = "postgres"
    with running_server("--rate", "0", store=store, cwd=tmp_path, env=env) as a, \
            running_server("--rate", "0", store=store, cwd=tmp_path, env=env) as b, \
            httpx.Client(base_url=a.url, timeout=30) as via_a, \
            httpx.Client(base_url=b.url, timeout=30) as via_b:
        live: list[list[dict[str, Any]]] = []
        listener = threading.Thread(target=lambda: live.append(sse_events(
            b.url, 4, last_event_id=0, params={"topic": "vm.*"})))
        listener.start()
        assert 201 == via_a.post("/v1/vms", json={"name": "pg-1"}).status_code
        for command in ("start", "pause", "resume"):
            assert 200 == via_a.post(f"/v1/vms/pg-1/{command}").status_code
        listener.join(timeout=120)
        ids_a = all_ids(via_a)
        assert ids_a == all_ids(via_b)
        vm_ids = [event["id"] for event in via_a.get(
            "/v1/events", params={"topic": "vm.*"}).json()["events"]]
        assert [vm_ids] == [[event["id"] for event in found] for found in live]
        assert ["vm.created", "vm.started", "vm.paused", "vm.resumed"] == [
            event["topic"] for event in live[0]]
        # resume on the other instance (and over the WebSocket) from any id
        assert vm_ids[2:] == [e["id"] for e in sse_events(a.url, 2, last_event_id=vm_ids[1])]
        assert vm_ids[1:] == [m["id"] for m in ws_events(b.url, 3, f"after={vm_ids[0]}")]
        assert "running" == via_b.get("/v1/vms/pg-1").json()["state"]
        assert [("pg-1", "running", 4)] == [(vm["name"], vm["state"], vm["version"])
                                           for vm in via_b.get("/v1/vms").json()]
        assert 409 == via_b.post("/v1/vms", json={"name": "pg-1"}).status_code
