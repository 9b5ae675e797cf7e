"""Talk to the bare-metal probe guest (``riscv_probe/``) on QEMU 7.2's ``virt`` machine.

Physical layout (RAM is 64 MiB at 0x8000_0000):

* ``0x8000_0000``: the probe (code, data, stack: under 1 MiB);
* ``CASES_BASE``: the cases blob: header and cases, then from ``TABLE_COPIES`` a copy of
  the page tables (at the same offset as in the modelled RAM), which the probe diffs the
  tables against after every case and brings up to date;
* ``MODEL_BASE``: the modelled RAM, ``MODEL_SIZE`` bytes: page tables, then data pages.
  Our walker's memory is exactly this window: the probe's PMP lets S and U reach only it
  and ``HOLE`` (unassigned: the bus answers with an error), so any other physical address
  faults with an access fault instead of touching the probe or a device;
* ``MODEL_PRISTINE``: a second copy of the modelled RAM's initial contents, which the
  probe diffs the modelled RAM against at the end (every A/D write-back and store).

QEMU loads the probe with ``-kernel`` and the blobs with ``-device loader`` (the modelled
RAM twice); the probe reports over the UART (stdout) and exits through the ``sifive_test``
finisher. The expectations are QEMU 7.2's: ``qemu_version`` lets the test insist on it.
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from pathlib import Path

from attrs import frozen

from tests.differential.qemu_system.emulators import make_probe

PROBE_DIR = Path(__file__).parent / "riscv_probe"
PROBE_ELF = PROBE_DIR / "build" / "probe.elf"
QEMU = "qemu-system-riscv64"

RAM_BASE = 0x8000_0000
RAM_MIB = 64
CASES_BASE = 0x8010_0000
TABLE_COPIES = 0x8020_0000
CASES_LIMIT = 0x8100_0000
MODEL_BASE = 0x8100_0000
MODEL_SIZE = 0x100_0000
MODEL_PRISTINE = MODEL_BASE + MODEL_SIZE
TABLES_LIMIT = MODEL_BASE + 0x80_0000
"""Page tables go in ``[MODEL_BASE, TABLES_LIMIT)``; data pages fill the rest."""
HOLE_BASE = 0x100_0000_0000
HOLE_SIZE = 0x100_0000_0000

MAGIC = 0x4542_4F52_5043_4D56  # "VMCPROBE"
CASE_FORMAT = struct.Struct("<10Q")
HEADER_FORMAT = struct.Struct("<6Q")

KIND_FETCH, KIND_LOAD, KIND_STORE = 0, 1, 2
MSTATUS_MPRV = 1 << 17
MSTATUS_SUM = 1 << 18
MSTATUS_MXR = 1 << 19
MPP_SHIFT = 11


@frozen
class ProbeCase:
    """One access for the probe to make (the C struct ``probe_case``)."""

    satp: int
    kind: int
    mstatus_bits: int
    va: int
    marker: int
    check_pa: int
    table_start: int
    table_words: int
    pristine: int


@frozen
class ProbeRun:
    """Everything the probe reported: one report per case, then the final memory diff."""

    reports: list[CaseReport]
    model_changes: dict[int, int]


@frozen
class CaseReport:
    """What the probe saw for one case, and the page-table words that changed after it."""

    index: int
    trapped: bool
    cause: int
    tval: int
    epc: int
    value: int
    satp: int
    table_writes: tuple[tuple[int, int], ...]


def pattern_word(address: int) -> int:
    """What an untouched data word at ``address`` holds: its own address, shifted so that
    its low 7 bits are 0x7F (an illegal 32-bit instruction carrying bits 27:3 of it)."""
    return (address << 4) | 0x7F


def pattern_bytes(base: int, size: int) -> bytes:
    """``pattern_word`` for every 8-byte word of ``[base, base + size)``."""
    words = [pattern_word(address) for address in range(base, base + size, 8)]
    return struct.pack(f"<{len(words)}Q", *words)


def encode_cases(cases: list[ProbeCase], table_copies: bytes) -> bytes:
    """The cases blob, with ``table_copies`` at ``TABLE_COPIES``."""
    header = HEADER_FORMAT.pack(MAGIC, len(cases), MODEL_BASE, MODEL_SIZE // 8, MODEL_PRISTINE, 0)
    body = b"".join(
        CASE_FORMAT.pack(
            c.satp,
            c.kind,
            c.mstatus_bits,
            c.va,
            c.marker,
            c.check_pa,
            c.table_start,
            c.table_words,
            c.pristine,
            0,
        )
        for c in cases
    )
    room = TABLE_COPIES - CASES_BASE - len(header)
    if len(body) > room or TABLE_COPIES + len(table_copies) > CASES_LIMIT:
        raise ValueError(f"too many cases ({len(cases)}) or tables ({len(table_copies)} bytes)")
    return header + body + bytes(room - len(body)) + table_copies


def parse_output(output: str) -> ProbeRun:
    """The probe's UART output; raises if it did not end with ``E``."""
    reports: list[CaseReport] = []
    writes: list[tuple[int, int]] = []
    model_changes: dict[int, int] = {}
    finished = False
    for line in output.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "C":
            _attach_writes(reports, writes)
            index, trapped, cause, tval, epc, value, satp = (int(f, 16) for f in fields[1:8])
            reports.append(CaseReport(index, bool(trapped), cause, tval, epc, value, satp, ()))
        elif fields[0] == "W":
            writes.append((int(fields[1], 16), int(fields[2], 16)))
        elif fields[0] == "F":
            model_changes[int(fields[1], 16)] = int(fields[2], 16)
        elif fields[0] == "E":
            finished = True
        else:
            raise ValueError(f"unexpected probe output line: {line!r}")
    _attach_writes(reports, writes)
    if not finished:
        raise ValueError(f"the probe stopped after {len(reports)} cases:\n{output[-2000:]}")
    return ProbeRun(reports, model_changes)


def _attach_writes(reports: list[CaseReport], writes: list[tuple[int, int]]) -> None:
    if reports and writes:
        last = reports[-1]
        reports[-1] = CaseReport(
            last.index,
            last.trapped,
            last.cause,
            last.tval,
            last.epc,
            last.value,
            last.satp,
            tuple(writes),
        )
    writes.clear()


def qemu_version() -> str:
    """The first line of ``qemu-system-riscv64 --version``."""
    result = subprocess.run(
        [QEMU, "--version"], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    )
    return result.stdout.splitlines()[0]


def build_probe() -> Path:
    """``make -C riscv_probe``; raises with the compiler's output when it fails."""
    make_probe(PROBE_DIR)
    return PROBE_ELF


def run_probe(probe: Path, cases_blob: bytes, model_image: bytes, timeout: float = 120) -> str:
    """Boot QEMU with the probe and both blobs; returns the probe's UART output."""
    with tempfile.TemporaryDirectory(prefix="vmcore-riscv-probe-") as directory:
        cases_file = os.path.join(directory, "cases.bin")
        model_file = os.path.join(directory, "model.bin")
        Path(cases_file).write_bytes(cases_blob)
        Path(model_file).write_bytes(model_image)
        command = [
            QEMU,
            "-machine", "virt",
            "-m", f"{RAM_MIB}M",
            "-smp", "1",
            "-bios", "none",
            "-kernel", str(probe),
            "-device", f"loader,file={cases_file},addr={CASES_BASE:#x},force-raw=on",
            "-device", f"loader,file={model_file},addr={MODEL_BASE:#x},force-raw=on",
            "-device", f"loader,file={model_file},addr={MODEL_PRISTINE:#x},force-raw=on",
            "-display", "none",
            "-serial", "stdio",
            "-monitor", "none",
            "-nodefaults",
        ]  # fmt: skip
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,  # -serial stdio must not take over a terminal
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(
            f"QEMU exited with {result.returncode}:\n{result.stderr}\n{result.stdout[-2000:]}"
        )
    return result.stdout
