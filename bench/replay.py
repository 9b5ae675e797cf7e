"""Replaying a VM: vmcore's ControlPlane against eventsourcing's defaults, side by side.

Run: ``.venv/bin/python -m bench.replay [--quick] [--events N] [--repeats N]``

One VM with N events (default 10,000) is written once to each store. Then, alternating,
each contender rebuilds it with ``get`` (snapshots off, so every event is read, decoded and
applied) and we report events/s, medians of the repeats, and ratios:

- ``eventsourcing default``: an ``Application`` on eventsourcing's SQLite module with its
  default JSON transcoder and its default projector (``project_aggregate``);
- ``default projector, vmcore store``: the same but on vmcore's file store with the orjson
  transcoder, to isolate the projector;
- ``vmcore``: ``ControlPlane.get_vm`` (file store, orjson, ``project_virtual_machine``).

Also ``get`` with a snapshot every 100 events (latency of the latest version).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from vmcore.application import ControlPlane
from vmcore.composition import StoreSpec
from vmcore.domain import VirtualMachine, VmConfig


class DefaultApplication(Application[UUID]):
    """eventsourcing as it comes: default projector, default transcoder."""

    name = "vmcore"


def write_vm(cp: ControlPlane, events: int) -> UUID:
    vm = VirtualMachine.create("replayed", VmConfig(vcpus=2, memory="1G"))
    vm.start()
    while vm.version < events:
        if vm.can("pause"):
            vm.pause()
        else:
            vm.resume()
        if len(vm.pending_events) >= 500:
            cp.save(vm)
    cp.save(vm)
    return vm.id


def rate(get: Callable[[], Any], events: int) -> float:
    started = time.perf_counter()
    get()
    return events / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    events, repeats = (1_000, 2) if args.quick else (args.events, args.repeats)
    root = Path(tempfile.mkdtemp(prefix="vmcore-bench-replay-"))
    try:
        sqlite_env = StoreSpec("sqlite", str(root / "es.sqlite")).env() | {
            "TRANSCODER_TOPIC": "eventsourcing.persistence:JSONTranscoder"}
        file_env = StoreSpec("file", str(root / "file")).env(fsync="none")
        with ControlPlane(sqlite_env, snapshot_interval=0) as writer:
            sqlite_id = write_vm(writer, events)
        with ControlPlane(file_env, snapshot_interval=0) as writer:
            file_id = write_vm(writer, events)
        default = DefaultApplication({k: v for k, v in sqlite_env.items()
                                      if k != "TRANSCODER_TOPIC"})
        default_on_file = DefaultApplication(file_env)
        ours = ControlPlane(file_env, snapshot_interval=0)
        contenders: dict[str, Callable[[], Any]] = {
            "eventsourcing default (SQLite, JSON)": lambda: default.repository.get(sqlite_id),
            "default projector, vmcore store": lambda: default_on_file.repository.get(file_id),
            "vmcore ControlPlane.get_vm": lambda: ours.get_vm(file_id),
        }
        results: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(repeats):
            for name, get in contenders.items():
                results[name].append(rate(get, events))
        medians = {name: statistics.median(values) for name, values in results.items()}
        base = medians["eventsourcing default (SQLite, JSON)"]
        print(f"replay of a {events}-event VM, events/s (median of {repeats})")
        for name, value in medians.items():
            print(f"  {name:<40} {value:>12,.0f}   {value / base:5.2f}x")
        same_store = (medians["vmcore ControlPlane.get_vm"]
                      / medians["default projector, vmcore store"])
        print(f"  vmcore vs default projector on the same store: {same_store:.2f}x")
        _snapshot_latency(root, events, repeats)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _snapshot_latency(root: Path, events: int, repeats: int) -> None:
    latencies: dict[str, list[float]] = {"sqlite": [], "file": []}
    for kind in latencies:
        location = str(root / f"snap-{kind}") + (".sqlite" if kind == "sqlite" else "")
        env = StoreSpec(kind, location).env(fsync="none" if kind == "file" else None)
        with ControlPlane(env, snapshot_interval=100) as cp:
            vm_id = write_vm(cp, events)
            for _ in range(repeats * 20):
                started = time.perf_counter()
                cp.get_vm(vm_id)
                latencies[kind].append((time.perf_counter() - started) * 1000)
    print("get with a snapshot every 100 events (0 events after it), ms (median)")
    for kind, values in latencies.items():
        print(f"  ControlPlane on {kind:<6} {statistics.median(values):8.3f}")


if __name__ == "__main__":
    main()
