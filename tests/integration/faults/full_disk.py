"""A directory whose writes fail with ENOSPC for real: a small tmpfs mounted there and
filled (when this process may mount, as root in the test machines), else a log segment that
is a symlink to ``/dev/full`` (every write to it fails with ENOSPC, no privileges needed)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


def _mount_tmpfs(directory: Path) -> bool:
    if os.geteuid() != 0:
        return False
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "vmcore-test-full", str(directory)],
        capture_output=True, check=False,
    )
    return result.returncode == 0


def _fill(directory: Path) -> None:
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        block = b"\xff" * 4096
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, block)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\xff")
    finally:
        os.close(fd)
    probe = directory / "probe"
    try:
        probe.write_bytes(b"x")
    except OSError as error:
        assert errno.ENOSPC == error.errno
    else:
        raise AssertionError(f"{directory} is not full")
    finally:
        probe.unlink(missing_ok=True)


@contextlib.contextmanager
def full_log_directory(directory: Path, *, mount: bool = True) -> Iterator[str]:
    """``directory`` (a file-store log directory, e.g. ``store/snapshots``) where every
    write fails with ENOSPC; yields how ("tmpfs" or "/dev/full")."""
    directory.mkdir(parents=True, exist_ok=True)
    if mount and _mount_tmpfs(directory):
        try:
            _fill(directory)
            yield "tmpfs"
        finally:
            subprocess.run(["umount", "-l", str(directory)], check=False)
        return
    segment = directory / f"{1:012d}.seg"
    segment.symlink_to("/dev/full")
    try:
        yield "/dev/full"
    finally:
        segment.unlink()  # the disk has space again
