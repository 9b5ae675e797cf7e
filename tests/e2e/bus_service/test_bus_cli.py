"""`vmcore bus emit|poll|topics|rules|subscribe --url` against a running service."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.e2e.bus_service.harness import BusServer
from tests.e2e.cli_runner import vmcore, vmcore_env

pytestmark = pytest.mark.timeout(180)


def run_json(*args: str, cwd: Path) -> object:
    done = vmcore("bus", *args, cwd=cwd)
    assert (0, "") == (done.returncode, done.stderr)
    return orjson.loads(done.stdout)


def test_the_client_commands(tmp_path: Path) -> None:
    config = [{"id": "cli", "enable_rules": True}, {"id": "norules"}]
    with BusServer(config, tmp_path) as server:
        url = server.url("cli")
        watcher = subprocess.Popen(
            [sys.executable, "-m", "vmcore", "bus", "subscribe", "--url", url, "ping",
             "--count", "1"], cwd=tmp_path, env=vmcore_env(), stdout=subprocess.PIPE,
            text=True)
        emitted = run_json("emit", "--url", url, "cli.note", '{"n": 1}',
                           "--source-trn", "trn:user:alice", "--correlation-id", "c9",
                           cwd=tmp_path)
        assert isinstance(emitted, dict)
        page = run_json("poll", "--url", url, "--topic", "cli.*", cwd=tmp_path)
        assert isinstance(page, dict)
        assert [(emitted["event_id"], {"n": 1}, "c9")] == [
            (e["event_id"], e["payload"], e["correlation_id"]) for e in page["events"]]
        assert [{"topic": "cli.note", "count": 1, "last_event_id": emitted["event_id"]}] == \
            run_json("topics", "--url", url, cwd=tmp_path)
        rule = {"id": "r", "topic": "cli.*", "match_fields": {}, "action": {
            "EmitEvent": {"topic": "out", "payload": None}}}
        run_json("rules", "--url", url, "--add", orjson.dumps(rule).decode(), cwd=tmp_path)
        assert [rule] == run_json("rules", "--url", url, cwd=tmp_path)
        assert {"deleted": "r"} == run_json("rules", "--url", url, "--delete", "r",
                                            cwd=tmp_path)
        with server.client("cli") as pinger:  # until the watcher has subscribed and seen one
            for _ in range(600):
                pinger.call("emit_event", {"topic": "ping", "payload": None})
                try:
                    out, _ = watcher.communicate(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    continue
        pushed = orjson.loads(out)
        assert ("ping", 0) == (pushed["topic"], watcher.returncode)

        refused = vmcore("bus", "rules", "--url", server.url("norules"), "--add",
                         orjson.dumps(rule).decode(), cwd=tmp_path)
        assert (1, 1) == (refused.returncode, len(refused.stderr.splitlines()))
        assert "enable_rules" in refused.stderr


def test_unreachable_or_bad_urls_are_one_line(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    for url, words in ((f"tcp://127.0.0.1:{port}", "cannot reach"),
                       ("http://127.0.0.1:1", "--url")):
        done = vmcore("bus", "topics", "--url", url, cwd=tmp_path)
        assert (1, 1) == (done.returncode, len(done.stderr.splitlines())), done.stderr
        assert words in done.stderr
