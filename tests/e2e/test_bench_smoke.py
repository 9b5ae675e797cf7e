"""Every benchmark runs its real code path in --quick mode (figures are not checked here:
tests never assert on timing; `make bench` records them in docs/performance.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if not p.stem.startswith("_"))


@pytest.mark.parametrize("name", NAMES)
def test_benchmark_runs_quick(name: str) -> None:
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", name], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert 0 == result.returncode, result.stdout[-2000:] + result.stderr[-2000:]
