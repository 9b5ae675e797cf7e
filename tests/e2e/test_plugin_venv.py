"""An outside package, installed into a fresh venv next to vmcore, is discovered by its
entry point and sees VM events; ``vmcore run`` works there through the registered MMU
service. The venv has no system site-packages: only what pip installed is there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cli_runner import ROOT

EXAMPLE = ROOT / "examples" / "vmcore-audit-service"


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # The store lives in the test's directory, never in the user's data directory.
    home = {"VMCORE_HOME": str(cwd / ".vmcore")}
    return subprocess.run([str(a) for a in args], cwd=cwd, text=True, capture_output=True,
                          timeout=timeout, env=clean | home | (env or {}))


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("plugin-venv")
    subprocess.run([sys.executable, "-m", "venv", str(where / "venv")], check=True, timeout=120)
    pip = where / "venv" / "bin" / "pip"
    example = where / "vmcore-audit-service"  # a copy: the build leaves nothing in the repo
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    for target in (["-e", str(ROOT)], [str(example)]):
        result = run(pip, "install", "--quiet", "--disable-pip-version-check", *target,
                     cwd=where, timeout=480)
        assert 0 == result.returncode, result.stderr[-2000:]
    return where / "venv"


def test_the_venv_is_isolated_and_finds_the_plugin(venv: Path, tmp_path: Path) -> None:
    python = venv / "bin" / "python"
    probe = run(python, "-c", "import sys; print(sys.prefix != sys.base_prefix);"
                " import hypothesis", cwd=tmp_path)
    assert "ModuleNotFoundError" in probe.stderr  # not even the dev extra: a clean venv
    listed = run(venv / "bin" / "vmcore", "services", "list", "--json", cwd=tmp_path)
    rows = {row["name"]: row["distribution"] for row in json.loads(listed.stdout)}
    assert {"audit": "vmcore-audit-service", "lifecycle": "vmcore", "mmu": "vmcore"} == rows


def test_the_plugin_sees_vm_events_with_its_options(venv: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    config = tmp_path / "vmcore.json"
    config.write_text(json.dumps({"services": {"audit": {"options": {"path": str(log)}}}}))
    vmcore = venv / "bin" / "vmcore"
    for args in (("vm", "create", "--name", "web"), ("vm", "start", "web")):
        result = run(vmcore, "--config", config, *args, cwd=tmp_path)
        assert 0 == result.returncode, result.stderr
    assert ["vm.created", "vm.started"] == [
        json.loads(line)["topic"] for line in log.read_text().splitlines()]


def test_vmcore_run_in_the_fresh_venv(venv: Path, tmp_path: Path) -> None:
    hello = ROOT / "examples" / "guests" / "build" / "hello.elf"
    result = run(venv / "bin" / "vmcore", "run", hello, "--name", "hello", cwd=tmp_path,
                 env={"VMCORE_AUDIT_PATH": str(tmp_path / "audit.jsonl")})
    assert (0, "Hello from RISC-V on vmcore!\n") == (result.returncode, result.stdout)
    topics = [json.loads(line)["topic"]
              for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert ["vm.created", "vm.started", "vm.stopped"] == topics
