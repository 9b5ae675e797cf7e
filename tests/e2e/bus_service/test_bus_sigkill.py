"""SIGKILL `vmcore bus serve` while 8 connections emit to a persistent instance: after a
restart every acknowledged emit is in the log with its payload, and the rule fired exactly
once for each stored trigger (none lost, none twice), including those in flight at the kill."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bus_service.harness import BusServer, RawClient

pytestmark = pytest.mark.timeout(240)
EMITTERS = 8
KILL_AFTER = 400


def emit_until_killed(server: BusServer, worker: int, acked: list[tuple[int, Any]],
                      enough: threading.Event, lock: threading.Lock) -> None:
    try:
        with server.client("durable") as client:
            for n in range(100_000):
                payload = {"worker": worker, "n": n}
                result = client.call("emit_event", {"topic": "work", "payload": payload})
                with lock:
                    acked.append((result["event_id"], payload))
                    if len(acked) >= KILL_AFTER:
                        enough.set()
    except (ConnectionError, OSError):
        return


def read_all(client: RawClient, topic: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    since = 0
    while page := client.call("poll_events", {"topic": topic, "since": since,
                                              "limit": 1000})["events"]:
        events += page
        since = page[-1]["event_id"]
    return events


@pytest.mark.parametrize("storage", ["sqlite", pytest.param("postgres",
                                                              marks=pytest.mark.postgres)])
def test_every_acknowledged_emit_survives_sigkill_and_rules_fire_once(
        tmp_path: Path, storage: str) -> None:
    if storage == "postgres":
        from tests.integration.conftest import create_schema, postgres_conninfo

        path = f"{postgres_conninfo()} options=-csearch_path={create_schema('kill')}"
    else:
        path = str(tmp_path / "bus.db")
    config = [{"id": "durable", "persist": True, "storage_path": path,
               "enable_rules": True, "max_concurrency": 4}]
    acked: list[tuple[int, Any]] = []
    lock = threading.Lock()
    enough = threading.Event()
    with BusServer(config, tmp_path) as server:
        with server.client("durable") as client:
            client.call("register_rule", {"id": "done", "topic": "work", "action": {
                "EmitEvent": {"topic": "work.done", "payload": {"ok": True}}}})
        threads = [threading.Thread(target=emit_until_killed,
                                    args=(server, w, acked, enough, lock), daemon=True)
                   for w in range(EMITTERS)]
        for thread in threads:
            thread.start()
        assert enough.wait(120), server.errors()
        server.kill()
        for thread in threads:
            thread.join(30)
        server.start()
        with server.client("durable") as client:
            stored = {e["event_id"]: e["payload"] for e in read_all(client, "work")}
            with lock:
                missing = [(i, p) for i, p in acked if stored.get(i) != p]
            assert [] == missing
            assert len(acked) <= len(stored)
            deadline = time.monotonic() + 120
            while True:
                done = read_all(client, "work.done")
                if len(done) >= len(stored) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            triggers = [e["metadata"]["vmcore"]["trigger_event_id"] for e in done]
            assert sorted(stored) == sorted(triggers)
