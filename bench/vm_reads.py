"""Reads at scale: ``vm show`` of a long-lived VM and ``vm list`` of a big fleet, the file
store against vmcore's SQLite store (eventsourcing's SQLite module), and the ``vmcore vm
list`` command against its own start-up.

Run: ``.venv/bin/python -m bench.vm_reads [--quick] [--runs N] [--events E] [--vms V]``

Each store is filled once through the ControlPlane (real VM events, snapshots every 50 as
``vmcore`` takes them). Then each run measures, file store and SQLite side by side:

- ``vm show`` of one VM with E events (default 100,000; ``--quick`` 2,000): a fresh
  ControlPlane opens the store and reads the VM (in-process, ms), and the ``vmcore vm show``
  command as a process (CPU ms, user + system). Goal (issue 11): <= 1.0x SQLite;
- ``vm list`` over V VMs (default 10,000; ``--quick`` 200): ``list_vms()`` of a fresh
  ControlPlane (in-process, ms; the fleet view, saved once by the fill). Goal: <= 50 ms;
  in-process figures are medians of 11 fresh ControlPlanes, process figures of 11 spawns;
- ``vmcore vm list`` on the V-VM file store against ``vmcore vm list`` on a 3-VM file store
  (its start-up), CPU and wall of a process, medians of 11 alternating spawns. Goal (issue 11):
  within 1.3x.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench._report import Row, load_average, print_ratio_summary, print_run
from bench.startup import cached_bytecode_env, timed
from vmcore.application import ControlPlane
from vmcore.composition import StoreSpec
from vmcore.domain import VmConfig

KINDS = ("file", "sqlite")
SPAWNS = 11


def _spec(kind: str, root: str, name: str) -> StoreSpec:
    location = os.path.join(root, name if kind == "file" else f"{name}.db")
    return StoreSpec(kind, location)


def _filling(spec: StoreSpec) -> ControlPlane:
    return ControlPlane(spec.env() | {"VMCORE_FSYNC": "none"})


def fill_long_vm(spec: StoreSpec, events: int) -> str:
    """One VM with ``events`` events (pause/resume pairs, saved 50 at a time so the
    ControlPlane snapshots every 50 as it does for single commands)."""
    with _filling(spec) as cp:
        vm = cp.get_vm(cp.create_vm("long-lived", VmConfig()))
        vm.start()
        while vm.version < events:
            for _ in range(25):
                vm.pause()
                vm.resume()
            cp.save(vm)
        return str(vm.id)


def fill_fleet(spec: StoreSpec, vms: int) -> None:
    with _filling(spec) as cp:
        for i in range(vms):
            cp.create_vm(f"vm-{i}", VmConfig())
        cp.list_vms()  # builds and saves the view, as the first `vm list` would


def in_process_ms(spec: StoreSpec, read: Callable[[ControlPlane], object], *,
                  with_open: bool) -> float:
    """Median over a few fresh ControlPlanes of ``read`` (and, ``with_open``, of opening
    the store before it), in ms."""
    samples = []
    for _ in range(SPAWNS):
        started = time.perf_counter()
        with ControlPlane(spec.env()) as cp:
            if not with_open:
                started = time.perf_counter()
            read(cp)
            samples.append(1000 * (time.perf_counter() - started))
    return statistics.median(samples)


def commands_ms(commands: dict[str, list[str]], pycache: Path) -> dict[str, tuple[float, float]]:
    """Median (wall ms, CPU ms) of each ``vmcore`` command over SPAWNS spawns, the commands
    alternating so that a change of load hits them alike, with bytecode cached as on a
    user's machine (one unmeasured round fills the cache)."""
    env = cached_bytecode_env(pycache)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for spawn in range(SPAWNS + 1):
        for name, args in commands.items():
            result = timed([sys.executable, "-m", "vmcore", *args], env)
            if spawn:
                samples[name].append(result)
    return {name: (1000 * statistics.median(s[0] for s in got),
                   1000 * statistics.median(s[1] for s in got))
            for name, got in samples.items()}


def _show(cp: ControlPlane, vm_id: str) -> object:
    return cp.get_vm(vm_id)


def one_run(root: str, long_vm: dict[str, str], vms: int) -> list[Row]:
    """(workload, ours, peer) rows of one run; ``long_vm``: the long VM's id per store."""
    longs = {kind: _spec(kind, root, "long") for kind in KINDS}
    fleets = {kind: _spec(kind, root, "fleet") for kind in KINDS}
    shown = {kind: in_process_ms(spec, partial(_show, vm_id=long_vm[kind]), with_open=True)
             for kind, spec in longs.items()}
    listed = {kind: in_process_ms(spec, lambda cp: cp.list_vms(), with_open=False)
              for kind, spec in fleets.items()}
    spawned = commands_ms({
        **{f"show {kind}": ["--store", str(spec), "vm", "show", long_vm[kind], "--json"]
           for kind, spec in longs.items()},
        "list big": ["--store", str(fleets["file"]), "vm", "list"],
        "list small": ["--store", str(_spec("file", root, "small")), "vm", "list"],
    }, Path(root) / "pycache")
    return [
        ("vm show: open + get_vm, in-process ms (file / SQLite)", shown["file"], shown["sqlite"]),
        ("vmcore vm show, CPU ms (file / SQLite)", spawned["show file"][1],
         spawned["show sqlite"][1]),
        (f"vm list over {vms:,} VMs: list_vms(), ms (file / SQLite)", listed["file"],
         listed["sqlite"]),
        (f"vmcore vm list, CPU ms ({vms:,} VMs / 3 VMs)", spawned["list big"][1],
         spawned["list small"][1]),
        (f"vmcore vm list, wall ms ({vms:,} VMs / 3 VMs)", spawned["list big"][0],
         spawned["list small"][0]),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small stores, one run")
    parser.add_argument("--runs", type=int, default=3, help="measurements after one fill")
    parser.add_argument("--events", type=int, default=None, help="events of the long VM")
    parser.add_argument("--vms", type=int, default=None, help="VMs of the fleet")
    parser.add_argument("--dir", default=None, help="where the stores go (a temporary dir)")
    args = parser.parse_args(argv)
    events = args.events or (2_000 if args.quick else 100_000)
    vms = args.vms or (200 if args.quick else 10_000)
    runs_wanted = 1 if args.quick else args.runs
    root = tempfile.mkdtemp(prefix="vmcore-bench-reads-", dir=args.dir)
    runs: list[list[Row]] = []
    try:
        started = time.perf_counter()
        ids = {kind: fill_long_vm(_spec(kind, root, "long"), events) for kind in KINDS}
        for kind in KINDS:
            fill_fleet(_spec(kind, root, "fleet"), vms)
        fill_fleet(_spec("file", root, "small"), 3)
        print(f"filled: a {events:,}-event VM and {vms:,} VMs in each store"
              f" ({time.perf_counter() - started:.0f} s)", flush=True)
        for run in range(runs_wanted):
            load = load_average()
            runs.append(one_run(root, ids, vms))
            print_run(run + 1, load, runs[-1])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_ratio_summary(runs)

if __name__ == "__main__":
    main()
