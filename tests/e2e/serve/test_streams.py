"""Live push end to end: SSE (httpx-sse) and WebSocket (websockets) against `vmcore serve`.

Ids are notification-log positions; a client resuming from any id gets exactly what came
after it, from the store, whatever it missed while away.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.e2e.serve.server import Server
from tests.e2e.serve.streams import sse_events, ws_events, ws_url


def drive(client: httpx.Client, *commands: str) -> str:
    name = f"vm-{uuid.uuid4().hex[:8]}"
    assert 201 == client.post("/v1/vms", json={"name": name}).status_code
    for command in commands:
        assert 200 == client.post(f"/v1/vms/{name}/{command}").status_code
    return name


def all_ids(client: httpx.Client) -> list[int]:
    ids: list[int] = []
    after = 0
    while True:
        page = client.get("/v1/events", params={"after": after, "limit": 1000}).json()
        ids += [event["id"] for event in page["events"]]
        if page["next"] is None:
            return ids
        after = page["next"]


def test_sse_replays_from_zero_and_resumes_exactly(server: Server,
                                                   client: httpx.Client) -> None:
    drive(client, "start", "pause", "resume")
    expected = all_ids(client)
    replayed = sse_events(server.url, len(expected), last_event_id=0)
    assert expected == [event["id"] for event in replayed]
    for cut in range(len(expected)):  # resume from every id: exactly the rest
        rest = sse_events(server.url, len(expected) - cut - 1, last_event_id=expected[cut]) \
            if cut < len(expected) - 1 else []
        assert expected[cut + 1:] == [event["id"] for event in rest]
    drive(client, "start")  # happens while no client is connected
    missed = [i for i in all_ids(client) if i > expected[-1]]
    resumed = sse_events(server.url, len(missed), last_event_id=expected[-1])
    assert missed == [event["id"] for event in resumed]
    assert ["vm.created", "vm.started"] == [event["topic"] for event in resumed]


def test_sse_live_with_filters(server: Server, client: httpx.Client) -> None:
    name = drive(client)
    results: list[list[dict[str, Any]]] = []
    connected = threading.Event()
    reader = threading.Thread(target=lambda: results.append(sse_events(
        server.url, 2, params={"vm": name, "topic": "vm.p*"}, connected=connected)))
    reader.start()  # no id given: from the newest event when it connected
    assert connected.wait(60)
    drive(client, "start", "pause")  # another VM: filtered out
    for command in ("start", "pause", "resume", "pause"):
        assert 200 == client.post(f"/v1/vms/{name}/{command}").status_code
    reader.join(timeout=120)
    assert [["vm.paused", "vm.paused"]] == [[e["topic"] for e in found] for found in results]
    assert [3, 5] == [event["version"] for event in results[0]]


def test_sse_heartbeats_and_bad_ids(server: Server, client: httpx.Client) -> None:
    with client.stream("GET", "/v1/events/stream",
                       timeout=httpx.Timeout(30, read=60)) as response:
        assert "text/event-stream" == response.headers["content-type"].split(";")[0]
        for line in response.iter_lines():
            if line == ": heartbeat":
                break
    bad = client.get("/v1/events/stream", headers={"Last-Event-ID": "abc"})
    assert 400 == bad.status_code
    assert "Last-Event-ID" in bad.json()["detail"]
    assert 404 == client.get("/v1/events/stream", params={"vm": "no-such-vm"}).status_code


def test_websocket_resumes_with_after(server: Server, client: httpx.Client) -> None:
    name = drive(client, "start")
    expected = [i for i in all_ids(client)]
    every = ws_events(server.url, len(expected), "after=0")
    assert expected == [message["id"] for message in every]
    mine = ws_events(server.url, 2, f"after=0&vm={name}")
    assert ["vm.created", "vm.started"] == [message["topic"] for message in mine]
    assert 200 == client.post(f"/v1/vms/{name}/pause").status_code
    resumed = ws_events(server.url, 1, f"after={expected[-1]}")
    assert ["vm.paused"] == [message["topic"] for message in resumed]


def test_websocket_heartbeat_and_refusals(server: Server) -> None:
    with connect(f"{ws_url(server.url)}", open_timeout=30) as socket:
        assert {"type": "heartbeat"} == json.loads(socket.recv(timeout=60))
    for query in ("after=x", "vm=no-such-vm"):
        with pytest.raises(InvalidStatus) as refused, \
                connect(f"{ws_url(server.url)}?{query}", open_timeout=30):
            pass
        assert 403 == refused.value.response.status_code
