"""Running the `vmcore` command as a user would: a real subprocess of this interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def vmcore_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)} | (extra or {})


def vmcore(*args: str, cwd: Path, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vmcore", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300, env=vmcore_env(env))
