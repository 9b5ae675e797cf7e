"""Execution benchmark: our translated tier, our interpreter tier and Unicorn 2.1.4, side by side.

Run: ``python -m bench.execution`` (about a minute) or ``python -m bench.execution --quick``.

Three workloads, each run on the same guest code by every contender in one process,
interleaved, ``--repeats`` times (medians, in million guest instructions per second):

* ``alu``: an add/xor/addi/bne loop in M-mode (no memory accesses);
* ``paged-ldst``: a ld/add/sd loop over 16 KiB mapped with 4 KiB Sv39 pages, in S-mode
  with paging on (page tables built in guest memory; Unicorn walks them with QEMU's MMU);
* ``sieve``: ``examples/guests/sieve.c`` built with the Debian cross toolchain (the ELF is
  built with ``make -C examples/guests`` if missing); Unicorn gets the same segments, a UART
  that is always ready, and stops at ``exit``.

Our instruction counts are exact (``RunResult.instructions``); Unicorn runs the same
programs, so it is credited with the same counts. Translation cost is included in the
translated tier's time. Goals (issue 6): translated >= 8x our interpreter and >= 5 MIPS on
``alu``; >= 2 MIPS on ``paged-ldst``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from unicorn.riscv_const import UC_RISCV_REG_MSTATUS, UC_RISCV_REG_PRIV, UC_RISCV_REG_SATP
from unicorn.riscv_const import UC_RISCV_REG_X1 as X1
from unicorn.unicorn_const import UC_ARCH_RISCV, UC_MODE_RISCV64
from unicorn.unicorn_py3.unicorn import Uc

from vmcore_domain_services.execution import HaltReason, Machine, TieringPolicy
from vmcore_domain_services.riscv.asm import assemble, encode
from vmcore_domain_services.riscv.elf import load_elf

perf = time.perf_counter
RAM = 0x8000_0000
GUESTS = Path(__file__).resolve().parents[1] / "examples" / "guests"
TRANSLATED = TieringPolicy()
INTERPRETED = TieringPolicy(translate=False)

# -- workloads: code, initial registers, and how to set a machine up ---------------------------

ALU_LOOP = [
    encode("addi", 5, 5, imm=1), encode("add", 7, 7, 5), encode("xor", 28, 7, 5),
    encode("bne", 0, 5, 6, imm=-12), encode("ebreak"),
]  # fmt: skip
DATA_VA = 0x4000_0000
ROOT, L1, L0 = RAM + 0x10000, RAM + 0x11000, RAM + 0x12000
BUFFER = RAM + 0x20000
LDST_LOOP = [
    encode("ld", 5, 10), encode("add", 5, 5, 11), encode("sd", 0, 10, 5),
    encode("addi", 10, 10, imm=8), encode("and", 10, 10, 12), encode("or", 10, 10, 13),
    encode("addi", 14, 14, imm=-1), encode("bne", 0, 14, 0, imm=-28), encode("ebreak"),
]  # fmt: skip
SV39 = 8 << 60 | ROOT >> 12


def _page_tables(write: Callable[[int, bytes], None]) -> None:
    """Identity gigapage for code at RAM; 4 KiB pages DATA_VA.. -> BUFFER.. (4 pages)."""
    v, r, w, x, a, d = 1, 2, 4, 8, 64, 128

    def pte(pa: int, flags: int) -> bytes:
        return ((pa >> 12) << 10 | flags).to_bytes(8, "little")

    write(ROOT + 2 * 8, pte(RAM, v | r | w | x | a | d))
    write(ROOT + 1 * 8, pte(L1, v))
    write(L1, pte(L0, v))
    for i in range(4):
        write(L0 + 8 * i, pte(BUFFER + 4096 * i, v | r | w | a | d))


def _ldst_registers(iterations: int) -> dict[int, int]:
    return {10: DATA_VA, 11: 3, 12: 0x3FFF, 13: DATA_VA, 14: iterations}


# -- contenders ----------------------------------------------------------------------------------


def ours_loop(
    code: list[int], regs: dict[int, int], tiering: TieringPolicy, paged: bool
) -> tuple[int, float]:
    m = Machine(4 << 20, console=lambda b: None, tiering=tiering)
    m.memory.write_bytes(RAM, assemble(code))
    for i, value in regs.items():
        m.hart.x[i] = value
    if paged:
        _page_tables(m.memory.write_bytes)
        m.hart.csr.values[0x180] = SV39
        m.hart.set_priv(1)
        m.port.flush()
    m.hart.pc = RAM
    start = perf()
    result = m.run()
    elapsed = perf() - start
    assert HaltReason.FAULT == result.reason and 3 == result.cause, result
    return result.instructions, elapsed


def unicorn_loop(code: list[int], regs: dict[int, int], paged: bool) -> float:
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(RAM, 4 << 20)
    uc.mem_write(RAM, assemble(code))
    for i, value in regs.items():
        uc.reg_write(X1 + i - 1, value)
    if paged:
        _page_tables(uc.mem_write)
        uc.reg_write(UC_RISCV_REG_PRIV, 3)
        uc.reg_write(UC_RISCV_REG_SATP, SV39)
        mstatus = uc.reg_read(UC_RISCV_REG_MSTATUS)
        uc.reg_write(UC_RISCV_REG_MSTATUS, mstatus & ~(3 << 11) | 1 << 11)
        uc.reg_write(UC_RISCV_REG_PRIV, 1)
    start = perf()
    uc.emu_start(RAM, RAM + 4 * (len(code) - 1))
    return perf() - start


def _sieve_elf() -> Path:
    path = GUESTS / "build" / "sieve.elf"
    if not path.exists():
        subprocess.run(["make", "-C", str(GUESTS)], check=True, capture_output=True)
    return path


def ours_sieve(tiering: TieringPolicy) -> tuple[int, float]:
    m = Machine.from_elf(_sieve_elf(), 16 << 20, console=lambda b: None, tiering=tiering)
    start = perf()
    result = m.run()
    elapsed = perf() - start
    assert HaltReason.EXITED == result.reason and 0 == result.exit_code, result
    return result.instructions, elapsed


def unicorn_sieve() -> float:
    from vmcore_domain_services.memory import GuestMemory

    memory = GuestMemory(16 << 20, RAM)
    image = load_elf(_sieve_elf(), memory)
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(RAM, 16 << 20)
    for number, page in memory.pages():
        uc.mem_write(number << 12, page)
    uc.mmio_map(0x1000_0000, 0x1000, lambda uc, off, size, data: 0x60, None,
                lambda uc, off, size, value, data: None, None)  # fmt: skip
    uc.reg_write(UC_RISCV_REG_PRIV, 3)
    start = perf()
    uc.emu_start(image.entry, image.symbols["exit"])
    return perf() - start


# -- driver --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for smoke tests")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    scale = 1 if args.quick else 10
    alu_fast, alu_slow, alu_native = 100_000 * scale, 10_000 * scale, 2_000_000 * scale
    ldst_fast, ldst_slow, ldst_native = 20_000 * scale, 4_000 * scale, 200_000 * scale

    rows: dict[str, dict[str, list[float]]] = {}

    def record(workload: str, contender: str, mips: float) -> None:
        rows.setdefault(workload, {}).setdefault(contender, []).append(mips)

    for _ in range(repeats):
        for tier, tiering, n in (
            ("translated", TRANSLATED, alu_fast),
            ("interpreter", INTERPRETED, alu_slow),
        ):
            count, elapsed = ours_loop(ALU_LOOP, {6: n}, tiering, paged=False)
            record("alu", tier, count / elapsed / 1e6)
        elapsed = unicorn_loop(ALU_LOOP, {6: alu_native}, paged=False)
        record("alu", "unicorn", (3 + 4 * alu_native) / elapsed / 1e6)

        for tier, tiering, n in (
            ("translated", TRANSLATED, ldst_fast),
            ("interpreter", INTERPRETED, ldst_slow),
        ):
            count, elapsed = ours_loop(LDST_LOOP, _ldst_registers(n), tiering, paged=True)
            record("paged-ldst", tier, count / elapsed / 1e6)
        elapsed = unicorn_loop(LDST_LOOP, _ldst_registers(ldst_native), paged=True)
        record("paged-ldst", "unicorn", 8 * ldst_native / elapsed / 1e6)

        sieve_count = 0
        for tier, tiering in (("translated", TRANSLATED), ("interpreter", INTERPRETED)):
            if tier == "interpreter" and args.quick:
                continue
            sieve_count, elapsed = ours_sieve(tiering)
            record("sieve", tier, sieve_count / elapsed / 1e6)
        record("sieve", "unicorn", sieve_count / unicorn_sieve() / 1e6)

    print(
        f"guest M instructions/s, median of {repeats} (python -m bench.execution"
        f"{' --quick' if args.quick else ''})"
    )
    header = f"{'workload':<12}{'translated':>12}{'interpreter':>13}{'unicorn':>11}"
    print(header + f"{'transl/interp':>15}{'unicorn/transl':>16}")
    for workload, contenders in rows.items():
        med = {name: statistics.median(values) for name, values in contenders.items()}
        t, i, u = med.get("translated", 0.0), med.get("interpreter", 0.0), med.get("unicorn", 0.0)
        ratio = f"{t / i:.1f}x" if i else "-"
        print(f"{workload:<12}{t:>12.2f}{i:>13.2f}{u:>11.1f}{ratio:>15}{u / t:>15.0f}x")


if __name__ == "__main__":
    main()
