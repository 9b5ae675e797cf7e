"""Build the probe guest and run one batch of cases in ``qemu-system-x86_64`` (TCG)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from attrs import frozen

from tests.differential.qemu_system.emulators import make_probe
from tests.differential.qemu_system.x86_layout import COMMANDS_PA, PROBE_DIR, RAM_SIZE, TABLES_PA

QEMU = "qemu-system-x86_64"
CPU_MODEL = "max"
"""TCG's ``max`` model has LA57, SMEP, SMAP, NX and 1 GiB pages; MAXPHYADDR is 40."""
LA57_CPUID_BIT = 1 << 16


@frozen
class ProbeReport:
    """What the probe printed: its CPUID findings and one list of numbers per case."""

    cpuid_7_ecx: int
    cpuid_7_ebx: int
    cpuid_80000001_edx: int
    max_phys_bits: int
    cr4: int
    cases: list[list[int]]


def build_probe(out_dir: Path) -> Path:
    """``make`` the probe into ``out_dir``; returns the flat image."""
    make_probe(PROBE_DIR, f"OUT={out_dir}")
    return out_dir / "x86_probe.bin"


def run_batch(qemu: str, probe: Path, commands: bytes, tables: bytes) -> ProbeReport:
    with tempfile.TemporaryDirectory(prefix="vmcore-x86-probe-") as scratch:
        commands_file = Path(scratch) / "commands.bin"
        tables_file = Path(scratch) / "tables.bin"
        commands_file.write_bytes(commands)
        tables_file.write_bytes(tables)
        completed = subprocess.run(
            [
                qemu,
                "-accel",
                "tcg",
                "-cpu",
                CPU_MODEL,
                "-m",
                f"{RAM_SIZE >> 20}M",
                "-nodefaults",
                "-vga",
                "none",
                "-display",
                "none",
                "-no-reboot",
                "-monitor",
                "none",
                "-serial",
                "stdio",
                "-device",
                "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-kernel",
                str(probe),
                "-device",
                f"loader,file={commands_file},addr={COMMANDS_PA:#x},force-raw=on",
                "-device",
                f"loader,file={tables_file},addr={TABLES_PA:#x},force-raw=on",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    return parse_report(completed.stdout, completed.stderr, completed.returncode)


def parse_report(stdout: str, stderr: str, returncode: int) -> ProbeReport:
    lines = stdout.splitlines()
    header = next((line for line in lines if line.startswith("P ")), None)
    if header is None or "E" not in lines or returncode != 1:
        raise RuntimeError(
            f"the probe did not finish (exit {returncode}):\n{stdout[-2000:]}\n{stderr}"
        )
    magic_ok, ecx, ebx, edx, phys_bits, cr4 = (int(field, 16) for field in header.split()[1:])
    if not magic_ok:
        raise RuntimeError("the probe did not find the commands blob")
    cases = [
        [int(field, 16) for field in line.split()[1:]] for line in lines if line.startswith("C ")
    ]
    return ProbeReport(ecx, ebx, edx, phys_bits, cr4, cases)
