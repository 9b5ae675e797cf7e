"""`vmcore run GUEST` as a user runs it: console on stdout, exit code, signals, events."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.cli_runner import ROOT, vmcore, vmcore_env
from tests.integration.test_guest_runner import SPIN, build

BUILD = ROOT / "examples" / "guests" / "build"




def history(name: str, cwd: Path) -> list[str]:
    result = vmcore("vm", "history", name, "--json", cwd=cwd)
    return [event["topic"] for event in json.loads(result.stdout)]


def test_hello_prints_on_the_console_and_records_its_lifecycle(tmp_path: Path) -> None:
    result = vmcore("run", str(BUILD / "hello.elf"), "--name", "hello", cwd=tmp_path)
    assert (0, "Hello from RISC-V on vmcore!\n") == (result.returncode, result.stdout)
    assert "guest exited with code 0" in result.stderr
    assert ["vm.created", "vm.started", "vm.stopped"] == history("hello", tmp_path)


def test_the_paging_kernel_handles_its_user_page_fault(tmp_path: Path) -> None:
    result = vmcore("run", str(BUILD / "kernel.elf"), "--name", "kernel", cwd=tmp_path)
    assert 0 == result.returncode, result.stdout + result.stderr
    shown = json.loads(vmcore("vm", "show", "kernel", "--json", cwd=tmp_path).stdout)
    assert ("stopped", 0) == (shown["state"], shown["exit_code"])


def test_signals_pause_resume_and_stop_a_running_guest(tmp_path: Path) -> None:
    guest = build(tmp_path, "spin", SPIN)
    process = subprocess.Popen([sys.executable, "-m", "vmcore", "run", guest, "--name", "spin"],
                               cwd=tmp_path, env=vmcore_env(cwd=tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    try:
        for awaited, signum in (("running", signal.SIGUSR1), ("paused", signal.SIGUSR2),
                                ("resumed", signal.SIGTERM)):
            line = process.stderr.readline()
            assert f"vmcore: VM spin {awaited}" in line
            process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert 1 == process.returncode, stderr
    assert "stopped on request" in stderr
    assert ["vm.created", "vm.started", "vm.paused", "vm.resumed", "vm.stopped"] == history(
        "spin", tmp_path)


def test_a_missing_guest_is_one_line_and_no_vm(tmp_path: Path) -> None:
    result = vmcore("run", str(tmp_path / "nope.elf"), cwd=tmp_path)
    assert 1 == result.returncode
    assert result.stderr.startswith("vmcore: error: cannot load guest")
    assert 1 == len(result.stderr.splitlines())


def test_snapshot_on_pause_then_resume_the_vm_from_its_snapshot(tmp_path: Path) -> None:
    guest = build(tmp_path, "spin", SPIN)
    process = subprocess.Popen([sys.executable, "-m", "vmcore", "run", guest, "--name", "spin",
                                "--snapshot-on-pause"],
                               cwd=tmp_path, env=vmcore_env(cwd=tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    try:
        for awaited, signum in (("running", signal.SIGUSR1), ("paused", None),
                                ("snapshot taken pause-1", signal.SIGTERM)):
            line = process.stderr.readline()
            assert f"vmcore: VM spin {awaited}" in line
            if signum is not None:
                process.send_signal(signum)
        process.communicate(timeout=120)
    finally:
        process.kill()
    assert (tmp_path / ".vmcore" / "machine-snapshots" / "manifests").is_dir()

    resumed = vmcore("run", "--from-snapshot", "spin", "pause-1", "--max-instructions", "5000",
                     cwd=tmp_path)
    assert 1 == resumed.returncode, resumed.stderr
    assert "instruction limit reached after 5000 instructions" in resumed.stderr
    assert ["vm.paused", "vm.snapshot_created", "vm.stopped", "vm.snapshot_restored",
            "vm.stopped"] == history("spin", tmp_path)[2:]


def test_run_needs_a_guest_or_a_snapshot(tmp_path: Path) -> None:
    result = vmcore("run", cwd=tmp_path)
    assert (1, "vmcore: error: vmcore run needs a GUEST file or --from-snapshot VM SNAPSHOT\n"
            ) == (result.returncode, result.stderr)
