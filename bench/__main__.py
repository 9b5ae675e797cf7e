"""Run every benchmark in bench/ (``make bench``), one process each, side by side with peers.

``python -m bench [--quick] [NAME ...]`` runs the named benchmarks (default: all), passing
``--quick`` through for a short smoke run. Each benchmark prints its own ratio table.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def benchmark_names() -> list[str]:
    return sorted(path.stem for path in BENCH_DIR.glob("*.py") if not path.stem.startswith("_"))


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    wanted = [arg for arg in argv if not arg.startswith("-")] or benchmark_names()
    unknown = sorted(set(wanted) - set(benchmark_names()))
    if unknown:
        print(f"bench: unknown benchmark(s) {', '.join(unknown)};"
              f" available: {', '.join(benchmark_names())}", file=sys.stderr)
        return 2
    failed = []
    for name in wanted:
        print(f"\n=== bench.{name}{' (quick)' if quick else ''} ===", flush=True)
        started = time.perf_counter()
        args = [sys.executable, "-m", f"bench.{name}", *(["--quick"] if quick else [])]
        status = subprocess.run(args, cwd=BENCH_DIR.parent, check=False).returncode
        print(f"=== bench.{name}: exit {status} after {time.perf_counter() - started:.0f} s",
              flush=True)
        if status:
            failed.append(name)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
