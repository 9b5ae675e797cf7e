"""`vmcore --url ...` (and VMCORE_URL): the CLI as a client of a running `vmcore serve`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli_runner import vmcore
from tests.e2e.serve.server import Server, running_server

TOKEN = "cli-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("served")
    with running_server("--rate", "0", store="file:./store", cwd=workdir,
                        env={"VMCORE_API_TOKEN": TOKEN}) as server:
        yield server


def remote(served: Server, cwd: Path, *args: str, token: str = TOKEN) -> tuple[int, str, str]:
    # cwd has no store of its own: everything goes through the service.
    result = vmcore("--url", served.url, *args, cwd=cwd, env={"VMCORE_API_TOKEN": token})
    return result.returncode, result.stdout, result.stderr


def test_vm_commands_through_the_service(served: Server, tmp_path: Path) -> None:
    assert 0 == remote(served, tmp_path, "vm", "create", "--name", "alpha", "--vcpus", "2",
                       "--memory", "256M", "--tag", "web")[0]
    code, out, err = remote(served, tmp_path, "vm", "start", "alpha")
    assert (0, "") == (code, err)
    assert "running" in out
    assert 0 == remote(served, tmp_path, "vm", "pause", "alpha", "--reason", "watchdog")[0]
    code, out, err = remote(served, tmp_path, "vm", "pause", "alpha")
    assert (1, "") == (code, out)
    assert ["vmcore: error: VM 'alpha'"] == [line.split(" (")[0] for line in err.splitlines()]
    assert "cannot pause while paused (HTTP 409)" in err
    listed = vmcore("vm", "list", "--json", cwd=tmp_path,
                    env={"VMCORE_URL": served.url, "VMCORE_API_TOKEN": TOKEN})
    assert 0 == listed.returncode, listed.stderr
    assert [("alpha", "paused", "watchdog", 3)] == [
        (vm["name"], vm["state"], vm["reason"], vm["version"])
        for vm in json.loads(listed.stdout)]
    shown = json.loads(remote(served, tmp_path, "vm", "show", "alpha", "--at-version", "1",
                              "--json")[1])
    assert ("created", ["web"]) == (shown["state"], shown["tags"])
    history = json.loads(remote(served, tmp_path, "vm", "history", "alpha", "--json")[1])
    assert ["vm.created", "vm.started", "vm.paused"] == [e["topic"] for e in history]
    events = json.loads(remote(served, tmp_path, "events", "--topic", "vm.p*", "--json")[1])
    assert ["vm.paused"] == [e["topic"] for e in events]
    assert not (tmp_path / ".vmcore").exists()


def test_refusals_are_one_line(served: Server, tmp_path: Path) -> None:
    code, _, err = remote(served, tmp_path, "vm", "show", "nope")
    assert 1 == code
    assert 1 == len(err.splitlines())
    assert err.startswith("vmcore: error: no VM named or with id 'nope'")
    code, _, err = remote(served, tmp_path, "vm", "list", token="wrong")
    assert (1, ["vmcore: error: missing or wrong bearer token (HTTP 401)"]) == (
        code, err.splitlines())
    down = vmcore("--url", "http://127.0.0.1:9", "vm", "list", cwd=tmp_path)
    assert 1 == down.returncode
    assert 1 == len(down.stderr.splitlines())
    assert down.stderr.startswith("vmcore: error: cannot reach http://127.0.0.1:9")
