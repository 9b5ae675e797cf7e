"""Scale-out: two `vmcore bus serve` processes configured with one PostgreSQL log serve it
together: what either accepts, both poll in the same event_id order, and a subscriber on one
is pushed what the other accepted. Rules fire once although both processes run them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.bus_service.harness import BusServer
from tests.integration.conftest import create_schema, postgres_conninfo

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]


def test_two_processes_serve_one_postgres_log(tmp_path: Path) -> None:
    dsn = f"{postgres_conninfo()} options=-csearch_path={create_schema('bus')}"
    config = [{"id": "shared", "persist": True, "storage_path": dsn, "enable_rules": True}]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with BusServer(config, tmp_path / "a") as first, \
            BusServer(config, tmp_path / "b") as second, \
            first.client("shared") as a, second.client("shared") as b, \
            second.client("shared") as watcher:
        a.call("register_rule", {"id": "pong", "topic": "ping", "action": {
            "EmitEvent": {"topic": "pong", "payload": None}}})
        watcher.call("subscribe_topic", {"topic": "ping"})
        accepted = []
        for n in range(20):
            client = a if n % 2 else b
            accepted.append(client.call("emit_event", {"topic": "ping",
                                                       "payload": n})["event_id"])
        seen_a = [(e["event_id"], e["payload"])
                  for e in a.call("poll_events", {"topic": "ping"})["events"]]
        seen_b = [(e["event_id"], e["payload"])
                  for e in b.call("poll_events", {"topic": "ping"})["events"]]
        assert seen_a == seen_b
        assert sorted(accepted) == [i for i, _ in seen_a]
        pushed = [watcher.recv()["params"]["event"]["event_id"] for _ in accepted]
        assert sorted(accepted) == pushed
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pongs = a.call("poll_events", {"topic": "pong"})["events"]
            if len(pongs) >= len(accepted):
                break
            time.sleep(0.05)
        triggers = sorted(e["metadata"]["vmcore"]["trigger_event_id"] for e in pongs)
        assert sorted(accepted) == triggers
