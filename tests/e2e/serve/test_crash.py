"""Nothing acknowledged is lost: SIGKILL `vmcore serve` while 8 clients issue commands;
after a restart every 2xx command is in the store, and an SSE client resuming from its last
id sees every event exactly once. And SIGTERM: streams close, the process exits cleanly."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse

from tests.e2e.serve.server import Server, running_server, start_server, without_token_env
from tests.e2e.serve.streams import sse_events
from tests.e2e.serve.test_streams import all_ids

CLIENTS = 8
ACKS_BEFORE_KILL = 60
CYCLE = ["start", "pause", "resume", "pause", "resume", "pause", "resume", "stop"]
TOPICS = {"start": "vm.started", "pause": "vm.paused", "resume": "vm.resumed",
          "stop": "vm.stopped"}


class Acks:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, int]] = []
        self.enough = threading.Event()
        self.lock = threading.Lock()

    def add(self, vm: str, command: str, version: int) -> None:
        with self.lock:
            self.items.append((vm, command, version))
            if len(self.items) >= ACKS_BEFORE_KILL:
                self.enough.set()


def commander(url: str, vm: str, acks: Acks) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for step in range(10_000):
            command = CYCLE[step % len(CYCLE)]
            try:
                response = client.post(f"/v1/vms/{vm}/{command}")
            except httpx.HTTPError:
                return  # the server is gone
            if response.status_code // 100 == 2:
                acks.add(vm, command, response.json()["version"])
            else:
                raise AssertionError(response.text)


def reader(url: str, seen: list[dict[str, Any]], connected: threading.Event) -> None:
    try:
        with httpx.Client(timeout=httpx.Timeout(30, read=120)) as client, \
                connect_sse(client, "GET", f"{url}/v1/events/stream",
                            headers={"Last-Event-ID": "0"}) as source:
            connected.set()
            for event in source.iter_sse():
                if event.event == "message" and event.data:
                    seen.append(json.loads(event.data))
    except httpx.HTTPError:
        return


def test_sigkill_loses_nothing_acknowledged(tmp_path: Path) -> None:
    store = "file:./store"
    server = start_server("--rate", "0", store=store, cwd=tmp_path, env=without_token_env())
    with httpx.Client(base_url=server.url, timeout=30) as client:
        names = [f"crash-{n}" for n in range(CLIENTS)]
        for name in names:
            assert 201 == client.post("/v1/vms", json={"name": name}).status_code
    seen: list[dict[str, Any]] = []
    connected = threading.Event()
    sse = threading.Thread(target=reader, args=(server.url, seen, connected))
    sse.start()
    assert connected.wait(60)
    acks = Acks()
    threads = [threading.Thread(target=commander, args=(server.url, name, acks))
               for name in names]
    for thread in threads:
        thread.start()
    assert acks.enough.wait(240)
    server.kill()
    for thread in [*threads, sse]:
        thread.join(timeout=120)

    with running_server("--rate", "0", store=store, cwd=tmp_path,
                        env=without_token_env()) as again, \
            httpx.Client(base_url=again.url, timeout=30) as client:
        histories = {name: client.get(f"/v1/vms/{name}/events").json() for name in names}
        for vm, command, version in acks.items:
            assert TOPICS[command] == histories[vm][version - 1]["topic"], (vm, version)
        stored = all_ids(client)
        seen_ids = [event["id"] for event in seen]
        assert seen_ids == stored[:len(seen_ids)]  # in order, no repeats, no gaps
        last = seen_ids[-1]
        rest = sse_events(again.url, len(stored) - len(seen_ids), last_event_id=last) \
            if len(stored) > len(seen_ids) else []
        assert stored == seen_ids + [event["id"] for event in rest]


def test_sigterm_closes_streams_and_exits_cleanly(tmp_path: Path) -> None:
    server: Server = start_server("--rate", "0", store="file:./store", cwd=tmp_path,
                                  env=without_token_env())
    lines: list[str] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.Client(timeout=httpx.Timeout(30, read=120)) as client, \
                client.stream("GET", f"{server.url}/v1/events/stream") as response:
            for line in response.iter_lines():
                lines.append(line)
                connected.set()

    thread = threading.Thread(target=listen)
    thread.start()
    assert connected.wait(60)
    assert 0 == server.terminate()
    thread.join(timeout=60)
    assert "event: shutdown" in lines
    assert "vmcore serve: stopped\n" in server.output
    with running_server("--rate", "0", store="file:./store", cwd=tmp_path,
                        env=without_token_env()) as again:
        assert 200 == httpx.get(f"{again.url}/readyz").status_code
