"""The example guests, built from source with Debian's cross toolchain, run to completion in
both tiers with the expected console output and exit code; a kernel run snapshotted half-way
and restored elsewhere ends exactly like the uninterrupted run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vmcore_domain_services.execution import HaltReason, Machine, TieringPolicy

GUESTS = Path(__file__).resolve().parents[3] / "examples" / "guests"
TIERS = {"interpreter": TieringPolicy(translate=False), "translated": TieringPolicy()}
EXPECTED = {
    "hello": "Hello from RISC-V on vmcore!\n",
    "sieve": "primes below 20000: 2262\n",
    "kernel": (
        "kernel: Sv39 on, entering U-mode\n"
        "kernel: U-mode page fault at 0x0000000040010000, page mapped\n"
        "U\n"
        "kernel: user exited with 42\n"
    ),
}


@pytest.fixture(scope="module")
def build() -> Path:
    subprocess.run(["make", "-C", str(GUESTS)], check=True, capture_output=True)
    return GUESTS / "build"


def boot(path: Path, tier: str, out: list[bytes]) -> Machine:
    return Machine.from_elf(path, 16 << 20, console=out.append, tiering=TIERS[tier])


@pytest.mark.parametrize("tier", sorted(TIERS))
@pytest.mark.parametrize("guest", sorted(EXPECTED))
def test_guest_prints_and_exits_zero(build: Path, guest: str, tier: str) -> None:
    out: list[bytes] = []
    result = boot(build / f"{guest}.elf", tier, out).run()
    assert (HaltReason.EXITED, 0) == (result.reason, result.exit_code)
    assert EXPECTED[guest] == b"".join(out).decode()


@pytest.mark.parametrize("stop", [300, 5_000, 12_000])
def test_kernel_snapshot_restore_runs_on_identically(build: Path, stop: int) -> None:
    out: list[bytes] = []
    straight = boot(build / "kernel.elf", "translated", out)
    straight.run()
    expected = straight.capture_state()

    first: list[bytes] = []
    paused = boot(build / "kernel.elf", "translated", first)
    assert HaltReason.LIMIT == paused.run(stop).reason
    state = paused.capture_state()
    second: list[bytes] = []
    resumed = Machine(16 << 20, console=second.append, tiering=TIERS["interpreter"])
    resumed.restore(state)
    assert HaltReason.EXITED == resumed.run().reason
    assert expected == resumed.capture_state()
    assert b"".join(out) == b"".join(first + second)


def test_elf_outside_ram_or_not_riscv_is_rejected(tmp_path: Path) -> None:
    source = tmp_path / "low.S"
    source.write_text(".globl _start\n_start:\n    j _start\n")
    low = tmp_path / "low.elf"
    subprocess.run(
        ["riscv64-unknown-elf-gcc", "-nostdlib", "-static", "-Wl,-Ttext=0x1000",
         "-march=rv64imac", "-mabi=lp64", str(source), "-o", str(low)],
        check=True, capture_output=True,
    )  # fmt: skip
    with pytest.raises(ValueError, match="outside guest RAM"):
        Machine.from_elf(low, 1 << 20)
    with pytest.raises(ValueError, match="not a RISC-V ELF"):
        Machine.from_elf("/proc/self/exe", 1 << 20)
