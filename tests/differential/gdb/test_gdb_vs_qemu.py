"""The same gdb script steps the same ELF on QEMU's gdbstub and on vmcore's: the register
traces over hundreds of `stepi` agree.

QEMU's ``-bios none`` reset code sets a few registers (t0, a0, a1, a2 ...) before it jumps to
the entry, where vmcore starts with zeroes; a register is compared from the first step where
the two agree or the guest writes it on QEMU, and pc always."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from tests.differential.qemu_system.emulators import require_emulator
from tests.e2e.gdb_session import BUILD, TIMEOUT, vmcore_gdb

STEPS = 300
ENTRY = 0x8000_0000
REGISTER = re.compile(r"^(ra|sp|gp|tp|t\d|fp|s\d+|a\d|pc)\s+(0x[0-9a-f]+)", re.M)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def trace(port: int, guest: Path, prologue: list[str]) -> list[dict[str, int]]:
    args = ["gdb-multiarch", "-nx", "-batch", "-ex", "set pagination off",
            "-ex", f"target remote 127.0.0.1:{port}"]
    for command in [*prologue, "info registers", *(["stepi", "info registers"] * STEPS),
                    "kill"]:
        args += ["-ex", command]
    out = subprocess.run([*args, str(guest)], text=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=TIMEOUT).stdout
    dumps: list[dict[str, int]] = []
    for name, value in REGISTER.findall(out):
        if name == "ra":
            dumps.append({})
        dumps[-1][name] = int(value, 16)
    assert STEPS + 1 == len(dumps), out[:3000]
    return dumps


def qemu_trace(guest: Path, prologue: list[str]) -> list[dict[str, int]]:
    qemu = require_emulator("qemu-system-riscv64", "qemu-system-misc")
    port = free_port()
    process = subprocess.Popen(
        [qemu, "-M", "virt", "-bios", "none", "-m", "64M", "-display", "none",
         "-serial", "null", "-monitor", "none", "-kernel", str(guest),
         "-gdb", f"tcp:127.0.0.1:{port}", "-S"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:  # gdb retries the connection while QEMU starts listening (tcp auto-retry)
        return trace(port, guest, [f"tbreak *{ENTRY:#x}", "continue", *prologue])
    finally:
        process.kill()
        process.wait(timeout=TIMEOUT)


def compare(qemu: list[dict[str, int]], ours: list[dict[str, int]]) -> list[str]:
    """Differences, one line each; registers from when they are comparable (see above)."""
    problems = []
    for name in qemu[0]:
        start = next((i for i, dump in enumerate(qemu)
                      if dump[name] == ours[i][name] or dump[name] != qemu[0][name]),
                     len(qemu))
        for step in range(start, len(qemu)):
            if qemu[step][name] != ours[step][name]:
                problems.append(f"step {step}: {name} qemu {qemu[step][name]:#x}"
                                f" vmcore {ours[step][name]:#x} (pc {qemu[step]['pc']:#x})")
                break
    return problems


@pytest.mark.parametrize(("guest", "start"), [("counter", None), ("sieve", "main")])
def test_stepi_register_traces_agree_with_qemu(tmp_path: Path, guest: str,
                                               start: str | None) -> None:
    """From the entry, or from main (after the sieve's long .bss loop), 300 steps each.

    (The paging kernel is not a case: gdb's software single-step cannot follow ``mret`` /
    ``sret``, so `stepi` there runs away on QEMU as on vmcore.)"""
    elf = BUILD / f"{guest}.elf"
    prologue = [] if start is None else [f"break {start}", "continue", "delete"]
    expected = qemu_trace(elf, prologue)
    with vmcore_gdb(tmp_path, elf) as server:
        actual = trace(server.port, elf, prologue)
        server.finish()
    assert [d["pc"] for d in expected] == [d["pc"] for d in actual]
    assert [] == compare(expected, actual)
    assert len({d["pc"] for d in actual}) >= 20  # the trace went somewhere
