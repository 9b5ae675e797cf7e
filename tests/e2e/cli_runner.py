"""Running the `vmcore` command as a user would: a real subprocess of this interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def vmcore_env(extra: dict[str, str] | None = None, *, cwd: Path | None = None
               ) -> dict[str, str]:
    """The environment for a vmcore subprocess; with ``cwd``, its data lives in
    ``cwd/.vmcore`` (``VMCORE_HOME``) unless ``extra`` says otherwise."""
    home = {"VMCORE_HOME": str(cwd / ".vmcore")} if cwd is not None else {}
    return {**os.environ, "PYTHONPATH": str(ROOT)} | home | (extra or {})


def vmcore(*args: str, cwd: Path, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    """``vmcore ARGS`` in ``cwd``; its data lives in ``cwd/.vmcore`` (``VMCORE_HOME``) unless
    ``env`` says otherwise, never in the user's own data directory."""
    return subprocess.run([sys.executable, "-m", "vmcore", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300, env=vmcore_env(env, cwd=cwd))
