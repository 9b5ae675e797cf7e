"""How the benchmarks that repeat a set of (workload, ours, peer) measurements print them:
each run with the load average at its start, then the ratios' min / median / max."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

Row = tuple[str, float, float]
"""(workload, ours, peer)."""


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def print_run(number: int, load: str, rows: Sequence[Row], *, ours: str = "ours",
              peer: str = "peer", width: int = 62, decimals: int = 1) -> None:
    print(f"run {number} (load average {load})")
    print(f"{'workload':{width}} {ours:>12} {peer:>12}  ratio")
    for name, mine, theirs in rows:
        print(f"{name:{width}} {mine:12,.{decimals}f} {theirs:12,.{decimals}f}"
              f"  {mine / theirs:.2f}x", flush=True)


def print_ratio_summary(runs: Sequence[Sequence[Row]], *, title: str = "ratio",
                        width: int = 62) -> None:
    """Nothing for a single run."""
    if len(runs) < 2:
        return
    print(f"{title} over the runs: min / median / max")
    for i, (name, _, _) in enumerate(runs[0]):
        ratios = sorted(run[i][1] / run[i][2] for run in runs)
        print(f"{name:{width}} {ratios[0]:.2f} / {statistics.median(ratios):.2f} /"
              f" {ratios[-1]:.2f}")
