"""Start-up of the ``vmcore`` command against importing the libraries it really needs.

Run: ``.venv/bin/python -m bench.startup [--quick] [--repeats N]``

Each contender is a fresh process of this interpreter, timed wall-clock from spawn to exit;
the contenders alternate, so a load change on the machine hits them alike. Bytecode is
cached as on a user's machine (``PYTHONDONTWRITEBYTECODE`` is dropped; the cache goes to a
scratch ``PYTHONPYCACHEPREFIX``, filled by one unmeasured warm-up round). We report the
min/median/max of the repeats and the ratio of each median to the peer's:

- ``peer: import the libraries``: ``python -c "import eventsourcing.application,
  dependency_injector.providers, attrs, orjson"`` (what opening a store needs);
- ``python -c pass``: the interpreter alone, for scale;
- ``vmcore vm list`` on a file store holding 3 VMs (the target: within 1.3x of the peer),
  ``vmcore --help``, ``vmcore --version``, ``vmcore info``, ``vmcore vm list --json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEER = "peer: import the libraries"
LIBRARIES = "import eventsourcing.application, dependency_injector.providers, attrs, orjson"
TARGET_RATIO = 1.3


def contenders() -> dict[str, list[str]]:
    vmcore = [sys.executable, "-m", "vmcore"]
    return {
        PEER: [sys.executable, "-c", LIBRARIES],
        "python -c pass": [sys.executable, "-c", "pass"],
        "vmcore vm list": [*vmcore, "vm", "list"],
        "vmcore vm list --json": [*vmcore, "vm", "list", "--json"],
        "vmcore info": [*vmcore, "info"],
        "vmcore --help": [*vmcore, "--help"],
        "vmcore --version": [*vmcore, "--version"],
    }


def cached_bytecode_env(pycache: Path) -> dict[str, str]:
    """The environment for spawning ``vmcore`` as on a user's machine: bytecode cached (in
    the scratch ``pycache`` directory; run each command once unmeasured to fill it) even
    when this shell sets ``PYTHONDONTWRITEBYTECODE``, and this checkout importable."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(pycache)}


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock seconds from spawn to exit, and the CPU seconds (user + system) the
    process used: on a loaded machine the CPU time is the steadier of the two."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return wall, usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup")
    parser.add_argument("--quick", action="store_true", help="3 repeats (a smoke run)")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    home = Path(tempfile.mkdtemp(prefix="vmcore-bench-startup-"))
    env = cached_bytecode_env(home / "pycache") | {"VMCORE_HOME": str(home / "data")}
    try:
        for name in ("web-1", "db-1", "batch-1"):
            subprocess.run([sys.executable, "-m", "vmcore", "vm", "create", "--name", name],
                           env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        for command in contenders().values():  # warm-up: fills the bytecode cache
            timed(command, env)
        walls: dict[str, list[float]] = {name: [] for name in contenders()}
        cpus: dict[str, list[float]] = {name: [] for name in contenders()}
        for _ in range(repeats):
            for name, command in contenders().items():
                wall, cpu = timed(command, env)
                walls[name].append(wall)
                cpus[name].append(cpu)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"start-up, {repeats} runs each, alternating; load average"
          f" {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    for label, times in (("wall-clock", walls), ("CPU (user+sys)", cpus)):
        peer = statistics.median(times[PEER])
        print(f"\n{label:<28} {'min ms':>8} {'median':>8} {'max':>8} {'x peer':>7}")
        for name, samples in times.items():
            median = statistics.median(samples)
            print(f"{name:<28} {min(samples) * 1e3:>8.0f} {median * 1e3:>8.0f}"
                  f" {max(samples) * 1e3:>8.0f} {median / peer:>7.2f}")
        ratio = statistics.median(times["vmcore vm list"]) / peer
        verdict = "within" if ratio <= TARGET_RATIO else "NOT within"
        print(f"vmcore vm list, {label}: {ratio:.2f}x the peer ({verdict} {TARGET_RATIO}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
