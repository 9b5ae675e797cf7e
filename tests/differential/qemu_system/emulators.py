"""What both QEMU 7.2 oracles need before they boot: the emulator, and their probe built."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def require_emulator(binary: str, package: str) -> str:
    """The path of ``binary``. Missing, it fails the test under CI (where ``make guests``
    installs it, so its absence is a broken build) and skips it elsewhere."""
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} is missing: scripts/ensure-apt-packages {binary} {package}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def make_probe(directory: Path, *arguments: str) -> None:
    """``make -C directory arguments...``; raises with the compiler's output on failure."""
    result = subprocess.run(
        ["make", "-s", "-C", str(directory), *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"building the probe in {directory} failed (`make guests` installs its "
            "toolchain):\n" + result.stdout + result.stderr
        )
