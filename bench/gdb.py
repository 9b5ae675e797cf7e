"""GDB stub benchmark: vmcore's stub against QEMU 7.2's gdbstub, through real gdb-multiarch.

Run: ``python -m bench.gdb`` (a minute or two) or ``python -m bench.gdb --quick``.

* ``stepi``: round trips per second of gdb's ``stepi`` (on RISC-V a software single-step:
  ``Z0`` at the next pc, ``vCont;c``, the stop, ``g``, ``z0`` ...) on ``sieve.elf``, QEMU
  (``-M virt -bios none -S``) and ``vmcore run --gdb`` side by side, timed inside gdb (its
  Python) around the steps only. Goal (issue 15): vmcore >= 0.5x QEMU.
* ``continue``: a guest loop of 10 million instructions (1 million with --quick) run to a
  breakpoint just after it through the stub's own code path (``Z0``, ``c``, then the
  server's slices with periodic snapshots for reverse execution), against ``Machine.run``
  of the same instructions with no debugger. In process, three interleaved pairs per run,
  the fastest of each kind kept (the machine is shared and loaded). Goal: <= 1.5x.
* ``reverse-stepi``: the latency of one ``bs`` (restore the latest snapshot, re-execute up
  to N = 10,000 instructions) in process, after the sieve ran to its end; and the same
  through real gdb (``reverse-stepi`` round trips, as for ``stepi``).
"""

from __future__ import annotations

import argparse
import gc
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from vmcore_domain_services.debug import DebugTarget, GdbStub
from vmcore_domain_services.execution import Machine
from vmcore_domain_services.riscv.asm import assemble, encode

perf = time.perf_counter
ROOT = Path(__file__).resolve().parents[1]
GUESTS = ROOT / "examples" / "guests"
RAM = 0x8000_0000
TIMEOUT = 600
# t0 counts down from t1 (x6): addi, add, xor, bne per iteration; then the breakpoint
LOOP = [encode("addi", 5, 5, imm=1), encode("add", 7, 7, 5), encode("xor", 28, 7, 5),
        encode("bne", 0, 5, 6, imm=-12), encode("ebreak")]
BREAK_AT = RAM + 16


def _elf(name: str) -> Path:
    path = GUESTS / "build" / f"{name}.elf"
    if not path.exists():
        subprocess.run(["make", "-C", str(GUESTS)], check=True, capture_output=True)
    return path


# -- servers --------------------------------------------------------------------------------


def _listening(port: int) -> bool:
    """True once something listens on 127.0.0.1:port (read from /proc, no connection made:
    a connection to QEMU's stub would attach a debugger)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":
            return True
    return False


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_qemu(elf: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    process = subprocess.Popen(
        ["qemu-system-riscv64", "-M", "virt", "-bios", "none", "-m", "64M", "-display",
         "none", "-serial", "null", "-monitor", "none", "-kernel", str(elf),
         "-gdb", f"tcp:127.0.0.1:{port}", "-S"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = perf() + 60
    while not _listening(port):
        if perf() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("QEMU's gdbstub did not start")
        time.sleep(0.02)
    return process, port


def _start_vmcore(elf: Path) -> tuple[subprocess.Popen[bytes], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "vmcore", "--store", "memory", "run", "--gdb", "127.0.0.1:0",
         str(elf)], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    assert process.stderr is not None
    match = re.search(rb"waiting for gdb on 127\.0\.0\.1:(\d+)", process.stderr.readline())
    if match is None:
        process.kill()
        process.wait()
        raise RuntimeError(f"vmcore --gdb did not start: {process.stderr.read()!r}")
    return process, int(match[1])


def round_trips(server: str, elf: Path, prologue: list[str], command: str, n: int) -> float:
    """``command`` round trips per second through gdb, timed inside gdb (its Python) around
    the ``n`` commands only, against a fresh server."""
    process, port = (_start_qemu if server == "qemu" else _start_vmcore)(elf)
    try:
        args = ["gdb-multiarch", "-nx", "-batch", "-ex", "set pagination off",
                "-ex", "set confirm off", "-ex", f"target remote 127.0.0.1:{port}"]
        timed = ["python import time; bench_t0 = time.perf_counter()", *[command] * n,
                 "python print('ELAPSED', time.perf_counter() - bench_t0)"]
        for line in [*prologue, *timed, "kill"]:
            args += ["-ex", line]
        out = subprocess.run([*args, str(elf)], capture_output=True, text=True,
                             timeout=TIMEOUT, check=True).stdout
        match = re.search(r"^ELAPSED ([0-9.e-]+)$", out, re.M)
        if match is None:
            raise RuntimeError(f"gdb printed no timing:\n{out[-2000:]}")
        return n / float(match[1])
    finally:
        process.kill()
        process.wait()


# -- in-process figures ----------------------------------------------------------------------


def _loop_machine(iterations: int) -> Machine:
    machine = Machine(4 << 20, console=lambda data: None)
    machine.memory.write_bytes(RAM, assemble(LOOP))
    machine.hart.x[6] = iterations
    machine.hart.pc = RAM
    return machine


def continue_plain(iterations: int) -> float:
    gc.collect()
    machine = _loop_machine(iterations)
    start = perf()
    result = machine.run(4 * iterations)
    elapsed = perf() - start
    assert BREAK_AT == result.pc, result
    return elapsed


def continue_debugged(iterations: int) -> float:
    from vmcore.entrypoints.gdb.server import SLICE

    gc.collect()
    machine = _loop_machine(iterations)
    stub = GdbStub(DebugTarget(machine))
    start = perf()
    assert b"OK" == stub.handle(f"Z0,{BREAK_AT:x},4".encode())
    assert stub.handle(b"vCont;c") is None
    reply = None
    while reply is None:
        reply = stub.advance(SLICE)
    elapsed = perf() - start
    assert b"T05thread:01;swbreak:;" == reply and BREAK_AT == machine.hart.pc
    assert 4 * iterations == machine.instret
    return elapsed


def reverse_step_ms(steps: int) -> tuple[float, int]:
    """Median ms of one reverse step after the sieve ran to its end; snapshots taken."""
    gc.collect()  # earlier figures leave garbage (machines with snapshot chains) behind
    machine = Machine.from_elf(_elf("sieve"), console=lambda data: None)
    target = DebugTarget(machine)
    while target.advance(200_000) is None:
        pass
    times = []
    for _ in range(steps):
        start = perf()
        target.reverse_step()
        times.append(perf() - start)
    return 1000 * statistics.median(times), target.checkpoints


# -- driver ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for smoke tests")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    steps = 10 if args.quick else 300
    iterations = 100_000 if args.quick else 2_500_000
    sieve = _elf("sieve")
    rows: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    for _ in range(repeats):
        record("stepi qemu", round_trips("qemu", sieve, [], "stepi", steps))
        record("stepi vmcore", round_trips("vmcore", sieve, [], "stepi", steps))
        # interleaved pairs; the fastest of each kind is the least disturbed by other load
        pairs = [(continue_plain(iterations), continue_debugged(iterations))
                 for _ in range(1 if args.quick else 3)]
        record("continue plain", min(p for p, _ in pairs))
        record("continue debugged", min(d for _, d in pairs))
        median_ms, snapshots = reverse_step_ms(5 if args.quick else 30)
        record("reverse-stepi ms (in process)", median_ms)
        record("reverse-stepi vmcore", round_trips(
            "vmcore", sieve, ["break exit", "continue"], "reverse-stepi", steps // 3))

    def line(name: str, unit: str) -> str:
        values = rows[name]
        return (f"  {name:32s} min {min(values):9.2f}  median {statistics.median(values):9.2f}"
                f"  max {max(values):9.2f} {unit}")

    print(f"python -m bench.gdb{' --quick' if args.quick else ''}: {repeats} run(s);"
          f" load average {Path('/proc/loadavg').read_text().split()[0]}")
    print(line("stepi qemu", "round trips/s"))
    print(line("stepi vmcore", "round trips/s"))
    ratio = [v / q for v, q in zip(rows["stepi vmcore"], rows["stepi qemu"], strict=True)]
    print(f"  stepi vmcore / qemu              min {min(ratio):.2f}x  median"
          f" {statistics.median(ratio):.2f}x  max {max(ratio):.2f}x   (goal >= 0.5x)")
    print(line("continue plain", "s"))
    print(line("continue debugged", "s"))
    cost = [d / p for d, p in zip(rows["continue debugged"], rows["continue plain"],
                                  strict=True)]
    print(f"  continue {4 * iterations / 1e6:g}M debugged / plain  min {min(cost):.2f}x"
          f"  median {statistics.median(cost):.2f}x  max {max(cost):.2f}x   (goal <= 1.5x)")
    print(line("reverse-stepi ms (in process)", f"ms ({snapshots} snapshots, N = 10,000)"))
    print(line("reverse-stepi vmcore", "round trips/s through gdb"))


if __name__ == "__main__":
    main()
