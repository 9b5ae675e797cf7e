"""The examples run as users run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_example(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], text=True,
                          capture_output=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_quickstart_prints_history_and_a_matching_replay(tmp_path: Path) -> None:
    result = run_example("quickstart.py", f"sqlite:{tmp_path / 'q.sqlite'}")
    assert 0 == result.returncode, result.stderr
    lines = result.stdout.splitlines()
    assert ["v1", "vm.created", "by", "trn:user:alice"] == lines[0].split()
    assert "at version 3 it was paused" in lines
    assert "replay equals live state: True" in lines
    assert "lifecycle statistics: {'stopped': 1}" in lines
