"""The `vmcore` command as users run it: real subprocesses on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.cli_runner import vmcore


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def test_demo_runs_on_the_default_store_and_checks_replays(workdir: Path) -> None:
    result = vmcore("demo", cwd=workdir)
    assert 0 == result.returncode, result.stderr
    assert "Replay check: 3/3 VMs" in result.stdout
    assert (workdir / ".vmcore").is_dir()  # VMCORE_HOME, as cli_runner sets it
    again = vmcore("demo", cwd=workdir)
    assert 0 == again.returncode, again.stderr
    listed = json.loads(vmcore("vm", "list", "--json", cwd=workdir).stdout)
    assert 4 == len(listed)  # two runs, two surviving VMs each


def test_the_demo_tells_its_story_in_order_and_ends_with_what_to_try(workdir: Path) -> None:
    lines = vmcore("demo", cwd=workdir).stdout.splitlines()
    assert lines[0].startswith("vmcore demo, run ")
    assert lines[1].startswith("Three VMs go through their lifecycles")
    header = lines.index(next(line for line in lines if line.startswith("TIME ")))
    assert ["TIME", "VM", "VERSION", "EVENT", "DETAILS"] == lines[header].split()
    db = [line.split()[1:4] for line in lines[header:] if line.split()[1:2] == ["db"]]
    assert [["db", "v1", "vm.created"], ["db", "v2", "vm.started"],
            ["db", "-", "(delete"], ["db", "v3", "vm.migration_started"],
            ["db", "v4", "vm.migration_completed"]] == db
    sections = [line for line in lines if line and not line.startswith((" ", "-"))
                and line.endswith(":")]
    assert ["The VMs now:"] == sections[1:2] and sections[-1].startswith("Try next")
    assert lines.index(sections[-1]) > lines.index(next(
        line for line in lines if line.startswith("Replay check: 3/3")))
    assert "vmcore vm history web-" in "\n".join(lines[lines.index(sections[-1]):])
    text = "\n".join(lines)
    assert [] == [r for r in ("['", "{'", "268435456", "True") if r in text]


def test_the_demo_runs_on_a_memory_store(workdir: Path) -> None:
    result = vmcore("--store", "memory", "demo", cwd=workdir)
    assert (0, "") == (result.returncode, result.stderr)
    assert "Replay check: 3/3 VMs" in result.stdout


def test_the_demo_with_json_prints_one_report(workdir: Path) -> None:
    result = vmcore("--store", "memory", "demo", "--json", cwd=workdir)
    report = json.loads(result.stdout)
    assert (0, True, 18, 3) == (result.returncode, report["replay_check_passed"],
                                len(report["events"]), len(report["vms"]))
    assert [{"vm": "db", "command": "delete", "after_version": 2,
             "reason": "cannot delete while running"}] == report["refused"]


def test_vm_commands_by_name_with_tables_and_json(workdir: Path) -> None:
    created = vmcore("vm", "create", "--name", "web-1", "--vcpus", "2", "--memory", "512M",
                     "--arch", "riscv64", "--json", cwd=workdir)
    assert 0 == created.returncode, created.stderr
    vm = json.loads(created.stdout)
    assert ("web-1", "created", 2, "512M") == (vm["name"], vm["state"], vm["vcpus"], vm["memory"])
    for command in ("start", "pause", "resume", "shutdown"):
        assert 0 == vmcore("vm", command, "web-1", cwd=workdir).returncode
    shown = vmcore("vm", "show", vm["id"], "--at-version", "3", "--json", cwd=workdir)
    assert "paused" == json.loads(shown.stdout)["state"]
    history = json.loads(vmcore("--json", "vm", "history", "web-1", cwd=workdir).stdout)
    assert ["vm.created", "vm.started", "vm.paused", "vm.resumed", "vm.shutdown_requested"] == [
        event["topic"] for event in history]
    table = vmcore("vm", "list", cwd=workdir).stdout.splitlines()
    assert ["NAME", "ID", "STATE"] == table[0].split()[:3]
    assert "shutting_down" == table[1].split()[2]
    events = json.loads(vmcore("events", "--topic", "vm.p*", "--json", cwd=workdir).stdout)
    assert ["vm.paused"] == [event["topic"] for event in events]
    assert 0 == vmcore("vm", "create", "--name", "db-1", cwd=workdir).returncode
    by_vm = json.loads(vmcore("events", "--vm", "web-1", "--json", cwd=workdir).stdout)
    assert [1, 2, 3, 4, 5] == [event["version"] for event in by_vm]


def test_an_illegal_transition_is_refused_and_recorded_nowhere(workdir: Path) -> None:
    vmcore("vm", "create", "--name", "db-1", cwd=workdir)
    vmcore("vm", "start", "db-1", cwd=workdir)
    refused = vmcore("vm", "delete", "db-1", cwd=workdir)
    assert (1, "cannot delete while running") == (
        refused.returncode, refused.stderr.split(") ")[-1].strip())
    history = json.loads(vmcore("vm", "history", "db-1", "--json", cwd=workdir).stdout)
    assert 2 == len(history)


def test_store_option_and_environment_select_the_store(workdir: Path) -> None:
    store = f"sqlite:{workdir / 'other.sqlite'}"
    assert 0 == vmcore("--store", store, "vm", "create", "--name", "a", cwd=workdir).returncode
    by_env = vmcore("vm", "list", "--json", cwd=workdir, env={"VMCORE_STORE": store})
    assert ["a"] == [vm["name"] for vm in json.loads(by_env.stdout)]
    assert [] == json.loads(vmcore("vm", "list", "--json", cwd=workdir).stdout)
