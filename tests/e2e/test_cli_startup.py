"""Start-up stays fast because each command loads only what it uses: checked by the modules
a real `vmcore` process has loaded when it finishes (never by timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cli_runner import vmcore, vmcore_env

# Loaded by commands that run guests, serve, copy stores or talk to PostgreSQL only. (The
# `mmu` service itself, a registry of attached vCPUs, loads with every writing command.)
HEAVY = ("vmcore_domain_services.riscv", "vmcore_domain_services.execution",
         "vmcore_domain_services.mmu.service", "vmcore.application.guest_runner",
         "vmcore.application.machine_snapshots", "elftools", "prometheus_client",
         "vmcore.bus.core", "psycopg", "vmcore_event_store.copy", "eventsourcing.sqlite",
         "http.server")
PROBE = """
import contextlib, io, json, sys
from vmcore.entrypoints.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    status = main(sys.argv[1:], out=io.StringIO(), err=io.StringIO())
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def loaded(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path,
                            env=env or vmcore_env(cwd=tmp_path))
    report = json.loads(result.stdout)
    assert 0 == report["status"], result.stderr
    return set(report["modules"])


@pytest.mark.parametrize("args", [("vm", "list"), ("vm", "list", "--json"), ("info",),
                                  ("events", "--limit", "5")])
def test_reading_commands_load_no_heavy_module(tmp_path: Path, args: tuple[str, ...]) -> None:
    modules = loaded(tmp_path, *args)
    assert [] == [name for name in HEAVY if name in modules]


# What `vm list` does not need once the fleet view is up to date: it reads one view record,
# decodes no event, so neither the event classes nor the aggregates are built; it publishes
# nothing, so no part of the bus loads; it names no service, so the services' settings stay
# unloaded; it fails at nothing, so the error descriptions stay unloaded.
NOT_FOR_A_CURRENT_LIST = ("vmcore.domain.events", "vmcore.domain.aggregate",
                          "vmcore.domain.naming", "vmcore.domain.evolution",
                          "vmcore.application.queries", "vmcore.application.services.settings",
                          "vmcore.bus", "vmcore.entrypoints.cli_errors", "hashlib")


def test_listing_from_an_up_to_date_fleet_view_builds_no_event_class(tmp_path: Path) -> None:
    for name in ("web-1", "db-1"):
        assert 0 == vmcore("vm", "create", "--name", name, cwd=tmp_path).returncode
    first = vmcore("vm", "list", cwd=tmp_path)  # catches up: reads both VMs, saves the view
    assert ["db-1", "web-1"] == sorted(line.split()[0] for line in first.stdout.splitlines()[1:])
    modules = loaded(tmp_path, "vm", "list")
    assert [] == [name for name in NOT_FOR_A_CURRENT_LIST if name in modules]
    assert {"vmcore.application.fleet_view", "vmcore_event_store.file"} <= modules


def test_listing_after_a_change_reads_the_changed_vm(tmp_path: Path) -> None:
    """The other side of the test above: the classes do load when there is an event to read."""
    assert 0 == vmcore("vm", "create", "--name", "web-1", cwd=tmp_path).returncode
    modules = loaded(tmp_path, "vm", "list")
    assert {"vmcore.domain.events", "vmcore.domain.aggregate"} <= modules


def test_help_loads_neither_the_domain_nor_a_store(tmp_path: Path) -> None:
    modules = loaded(tmp_path, "--help")
    assert [] == [name for name in ("vmcore.domain", "eventsourcing", "dependency_injector",
                                    "vmcore.composition", "importlib.metadata", *HEAVY)
                  if name in modules]


def test_a_command_that_writes_loads_the_bus_but_no_guest_machinery(tmp_path: Path) -> None:
    modules = loaded(tmp_path, "vm", "create", "--name", "web-1")
    assert "vmcore.bus.core" in modules
    assert [] == [name for name in HEAVY[:6] if name in modules]


def test_the_default_home_costs_no_import(tmp_path: Path) -> None:
    """Without VMCORE_HOME the per-user data directory is found without platformdirs
    (which imports tempfile, shutil, bz2 and lzma) on Linux."""
    env = {k: v for k, v in vmcore_env().items() if k not in ("VMCORE_HOME", "XDG_DATA_HOME")}
    modules = loaded(tmp_path, "vm", "list", env=env | {"HOME": str(tmp_path)})
    assert [] == [name for name in ("platformdirs", "tempfile") if name in modules]
    assert (tmp_path / ".local" / "share" / "vmcore").is_dir()
