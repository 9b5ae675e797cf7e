"""Where data lives: the default store and machine snapshots do not depend on the working
directory; `vmcore info` shows the configuration in effect, passwords hidden."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.cli_runner import vmcore, vmcore_env
from tests.integration.test_guest_runner import SPIN, build


def test_the_default_store_is_the_same_from_any_directory(tmp_path: Path) -> None:
    home = {"VMCORE_HOME": str(tmp_path / "home")}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert 0 == vmcore("vm", "create", "--name", "web-1", cwd=tmp_path / "a", env=home).returncode
    listed = json.loads(vmcore("vm", "list", "--json", cwd=tmp_path / "b", env=home).stdout)
    assert ["web-1"] == [vm["name"] for vm in listed]
    assert [] == sorted(p.name for p in (tmp_path / "a").iterdir())


def test_info_shows_the_configuration_in_effect_and_where_it_came_from(tmp_path: Path) -> None:
    config = tmp_path / "vmcore.json"
    config.write_text('{"snapshot_interval": 7}')
    env = {"VMCORE_HOME": str(tmp_path / "home"), "VMCORE_FSYNC": "group"}
    info = json.loads(vmcore("--store", "postgres://admin:s3cret@db.example/vmcore",
                             "--config", str(config), "info", "--json", cwd=tmp_path,
                             env=env).stdout)
    assert {"home": str(tmp_path / "home"), "home_from": "VMCORE_HOME",
            "store": "postgres://admin:***@db.example/vmcore", "store_from": "--store",
            "machine_snapshots": str(tmp_path / "home" / "machine-snapshots"),
            "fsync": "group", "fsync_from": "VMCORE_FSYNC", "snapshot_interval": 7,
            "snapshot_interval_from": str(config), "config_file": str(config),
            } == {key: info[key] for key in info if key not in ("version", "python")}
    text = vmcore("--store", "sqlite", "info", cwd=tmp_path, env=env).stdout
    assert f"sqlite:{tmp_path / 'home' / 'vmcore.sqlite'}" in text


def test_machine_snapshots_live_with_their_store(tmp_path: Path) -> None:
    """Snapshot taken from one directory, resumed from another, both naming the store."""
    store = f"file:{tmp_path / 'store'}"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    guest = build(tmp_path, "spin", SPIN)
    process = subprocess.Popen([sys.executable, "-m", "vmcore", "--store", store, "run", guest,
                                "--name", "spin", "--snapshot-on-pause"],
                               cwd=first, env=vmcore_env(cwd=first), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    try:
        for awaited, signum in (("running", signal.SIGUSR1), ("paused", None),
                                ("snapshot taken pause-1", signal.SIGTERM)):
            assert f"vmcore: VM spin {awaited}" in process.stderr.readline()
            if signum is not None:
                process.send_signal(signum)
        process.communicate(timeout=120)
    finally:
        process.kill()
    assert (tmp_path / "store" / "machine-snapshots" / "manifests").is_dir()
    assert not (first / ".vmcore").exists()
    resumed = vmcore("--store", store, "run", "--from-snapshot", "spin", "pause-1",
                     "--max-instructions", "5000", "--json", cwd=second)
    assert 1 == resumed.returncode, resumed.stderr
    summary = json.loads(resumed.stdout)  # the spin guest writes nothing on its console
    assert ("spin", "limit", 5000) == (summary["vm"], summary["outcome"],
                                       summary["instructions"])
