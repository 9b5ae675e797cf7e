"""Real `gdb-multiarch` in batch mode against `vmcore run --gdb` (both real subprocesses)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.cli_runner import ROOT, vmcore_env

BUILD = ROOT / "examples" / "guests" / "build"
COUNTER = BUILD / "counter.elf"
TIMEOUT = 120


class Server:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.stdout = ""
        self.stderr = ""

    def finish(self) -> int:
        """Wait for vmcore to end (killing it if it hangs); its exit code."""
        try:
            self.stdout, rest = self.process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.stdout, rest = self.process.communicate()
        self.stderr += rest
        return self.process.returncode


@contextmanager
def vmcore_gdb(cwd: Path, guest: Path = COUNTER, *extra: str) -> Iterator[Server]:
    """`vmcore run --gdb 127.0.0.1:0 GUEST`; the port is read from its announcement."""
    process = subprocess.Popen(
        [sys.executable, "-m", "vmcore", "--store", f"file:{cwd / 'store'}", "run",
         "--gdb", "127.0.0.1:0", "--name", "debugged", str(guest), *extra],
        cwd=cwd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=vmcore_env({"VMCORE_MACHINE_SNAPSHOTS": str(cwd / "snapshots")}))
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"waiting for gdb on 127\.0\.0\.1:(\d+)", line)
        assert match is not None, line
        server = Server(process, int(match[1]))
        server.stderr = line
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def gdb_command(port: int, commands: Sequence[str], guest: Path = COUNTER) -> list[str]:
    args = ["gdb-multiarch", "-nx", "-batch", "-ex", "set confirm off",
            "-ex", "set pagination off", "-ex", f"target remote 127.0.0.1:{port}"]
    for command in commands:
        args += ["-ex", command]
    return [*args, str(guest)]


def gdb(port: int, commands: Sequence[str], guest: Path = COUNTER) -> str:
    """Run gdb's commands against the stub; its stdout and stderr together."""
    result = subprocess.run(gdb_command(port, commands, guest), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    return result.stdout


def register(output: str, name: str) -> list[int]:
    """Every value gdb printed for register ``name`` (``info registers`` lines)."""
    return [int(v, 16) for v in re.findall(rf"^{name}\s+(0x[0-9a-f]+)", output, re.M)]


def symbol(name: str, guest: Path = COUNTER) -> int:
    """The address of ``name`` in the guest's symbol table."""
    from elftools.elf.elffile import ELFFile

    with guest.open("rb") as handle:
        table = ELFFile(handle).get_section_by_name(".symtab")
        return int(table.get_symbol_by_name(name)[0]["st_value"])
