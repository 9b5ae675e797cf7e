"""retry_on_conflict under contention: jittered backoff against immediate retries.

Run: ``.venv/bin/python -m bench.conflict_retries [--quick] [--repeats N]``

Eight writer *processes* toggle one VM (pause if running, else resume) through
``retry_on_conflict`` with 20 attempts each, on one PostgreSQL server (re-executed under
``scripts/with-postgres`` when none is configured). Two policies run back to back on fresh
schemas, alternating order per repeat: vmcore's default jittered exponential backoff, and
the peer, the old behaviour of retrying at once. Figures per policy (median of the
repeats): the share of operations that used up all 20 attempts, attempts per operation,
and completed operations per second.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from vmcore.application import ConcurrencyConflict, ControlPlane, retry_on_conflict
from vmcore.application.retries import CONFLICT_BACKOFF
from vmcore.bus import RetryPolicy
from vmcore.composition import StoreSpec
from vmcore.domain import VmConfig, VmState

_ROOT = Path(__file__).resolve().parent.parent
WRITERS = 8
ATTEMPTS = 20
POLICIES: dict[str, RetryPolicy] = {
    "jittered backoff": CONFLICT_BACKOFF,
    "immediate retry": RetryPolicy.fixed(ATTEMPTS, 0.0),
}


def _conninfo() -> str:
    keys = ("host", "port", "user", "password", "dbname")
    return " ".join(f"{k}={os.environ['POSTGRES_' + k.upper()]}" for k in keys)


def _writer(env: dict[str, str], vm_id: str, policy_name: str, operations: int,
            barrier: Any) -> tuple[int, int, int, float]:
    """Returns (completed, exhausted, attempts, seconds)."""
    policy = POLICIES[policy_name]
    completed = exhausted = attempts = 0
    with ControlPlane(env, snapshot_interval=0) as cp:
        cp.get_vm(uuid.UUID(vm_id))  # connect before the start line

        def toggle() -> None:
            nonlocal attempts
            attempts += 1
            vm = cp.get_vm(uuid.UUID(vm_id))
            if vm.state is VmState.RUNNING:
                vm.pause()
            else:
                vm.resume()
            cp.save(vm)

        barrier.wait(300)
        started = time.perf_counter()
        for _ in range(operations):
            try:
                retry_on_conflict(toggle, attempts=ATTEMPTS, policy=policy)
                completed += 1
            except ConcurrencyConflict:
                exhausted += 1
        return completed, exhausted, attempts, time.perf_counter() - started


def _one(policy_name: str, operations: int) -> dict[str, float]:
    schema = f"bench_retry_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        env = StoreSpec("postgres").env() | {"POSTGRES_SCHEMA": schema}
        with ControlPlane(env, snapshot_interval=0) as cp:
            vm_id = cp.create_vm("contended", VmConfig())
            cp.start_vm(vm_id)
        context = multiprocessing.get_context("spawn")
        with context.Manager() as manager:
            barrier = manager.Barrier(WRITERS)
            with context.Pool(WRITERS) as pool:
                results = pool.starmap(_writer, [(env, str(vm_id), policy_name, operations,
                                                  barrier)] * WRITERS)
    finally:
        with psycopg.connect(_conninfo(), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    total = WRITERS * operations
    completed = sum(r[0] for r in results)
    return {
        "exhausted %": 100.0 * sum(r[1] for r in results) / total,
        "attempts/op": sum(r[2] for r in results) / total,
        "ops/s": completed / max(r[3] for r in results),
    }


def run(quick: bool, repeats: int) -> dict[str, dict[str, list[float]]]:
    operations = 5 if quick else 30
    results: dict[str, dict[str, list[float]]] = {name: {} for name in POLICIES}
    for repeat in range(repeats):
        names = list(POLICIES) if repeat % 2 == 0 else list(reversed(POLICIES))
        for name in names:
            for metric, value in _one(name, operations).items():
                results[name].setdefault(metric, []).append(value)
    return results


def report(results: dict[str, dict[str, list[float]]]) -> str:
    lines = [f"{'policy':<18} {'exhausted %':>12} {'attempts/op':>12} {'ops/s':>8}"
             "   (min/median/max of the repeats)"]
    for name, metrics in results.items():
        cells = []
        for metric in ("exhausted %", "attempts/op", "ops/s"):
            values = metrics[metric]
            cells.append(f"{min(values):.1f}/{statistics.median(values):.1f}/{max(values):.1f}")
        lines.append(f"{name:<18} " + "  ".join(f"{c:>14}" for c in cells))
    ours, peer = results["jittered backoff"], results["immediate retry"]
    lines.append(
        "ratio backoff/immediate, median ops/s: "
        f"{statistics.median(ours['ops/s']) / statistics.median(peer['ops/s']):.2f}x"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced run of a few seconds")
    parser.add_argument("--repeats", type=int, default=None, help="repeats")
    args = parser.parse_args(argv)
    if not os.environ.get("POSTGRES_HOST"):
        script = str(_ROOT / "scripts" / "with-postgres")
        os.chdir(_ROOT)
        os.execv(script, [script, sys.executable, "-m", "bench.conflict_retries",
                          *sys.argv[1:]])
    repeats = args.repeats or (1 if args.quick else 3)
    print(f"{WRITERS} processes toggling one VM, {ATTEMPTS} attempts per operation,"
          f" {repeats} repeats; load average {Path('/proc/loadavg').read_text().split()[:3]}")
    print(report(run(args.quick, repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
