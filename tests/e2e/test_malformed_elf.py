"""Malformed guest ELFs: one clear line from `vmcore run`, never a traceback.

Hypothesis mutates a real guest (examples/guests/build/hello.elf): program-header fields
set to edge values (``p_filesz`` near 2^64, ``p_filesz > p_memsz``, segments outside RAM,
offsets past the end of the file), header fields (program-header count and offset,
section-header offset) and a few random bytes. The loader must either load the image or
raise its ``ElfImageError``; `vmcore run` must answer a bad image with exactly one line and
a non-zero exit.
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.e2e.cli_runner import ROOT, vmcore
from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.riscv import ElfImageError, load_elf

HELLO = ROOT / "examples" / "guests" / "build" / "hello.elf"
RAM = 64 << 20
_PHDR = 64  # hello.elf's single program header (e_phoff)
_FIELDS = {"p_offset": 8, "p_paddr": 24, "p_filesz": 32, "p_memsz": 40}
_EDGES = [0, 1, 158, 0x1000, 0x2000, 2**31, 0x8000_0000, 0x8000_0000 + RAM - 1,
          0x8000_0000 + RAM, 2**63, 2**64 - 0x1000, 2**64 - 1]
U64 = st.one_of(st.sampled_from(_EDGES), st.integers(0, 2**64 - 1))


@st.composite
def mutated_guests(draw: st.DrawFn) -> bytes:
    data = bytearray(HELLO.read_bytes())
    for offset in _FIELDS.values():
        if draw(st.booleans()):
            struct.pack_into("<Q", data, _PHDR + offset, draw(U64))
    if draw(st.booleans()):
        struct.pack_into("<H", data, 56, draw(st.integers(0, 0xFFFF)))  # e_phnum
    for header_offset in (32, 40):  # e_phoff, e_shoff
        if draw(st.booleans()):
            struct.pack_into("<Q", data, header_offset, draw(U64))
    flips = st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255))
    for position, value in draw(st.lists(flips, max_size=4)):
        data[position] = value
    return bytes(data)


def _with_fields(**fields: int) -> bytes:
    data = bytearray(HELLO.read_bytes())
    for name, value in fields.items():
        struct.pack_into("<Q", data, _PHDR + _FIELDS[name], value)
    return bytes(data)


NEAR_2_64 = _with_fields(p_filesz=2**64 - 16, p_memsz=2**64 - 1)
FILESZ_OVER_MEMSZ = _with_fields(p_filesz=0x1000, p_memsz=0x10)
OUTSIDE_RAM = _with_fields(p_paddr=0x8000_0000 + RAM - 8)
PAST_THE_FILE = _with_fields(p_offset=2**64 - 8)


def _load(image: bytes) -> ElfImageError | None:
    """None if the image loads; the loader's error if it is refused."""
    with tempfile.NamedTemporaryFile(suffix=".elf") as f:
        f.write(image)
        f.flush()
        try:
            load_elf(f.name, GuestMemory(RAM))
        except ElfImageError as error:
            return error
    return None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(NEAR_2_64)
@example(FILESZ_OVER_MEMSZ)
@example(OUTSIDE_RAM)
@example(PAST_THE_FILE)
@given(mutated_guests())
def test_the_loader_loads_or_refuses_with_its_own_error(image: bytes) -> None:
    _load(image)  # anything but ElfImageError (MemoryError, OverflowError ...) fails


def test_the_issue_s_images_are_refused_with_a_clear_reason() -> None:
    expected = {NEAR_2_64: f"lie beyond the end of the {len(NEAR_2_64)}-byte file",
                FILESZ_OVER_MEMSZ: "p_filesz 0x1000 is larger than p_memsz 0x10",
                OUTSIDE_RAM: "is outside guest RAM", PAST_THE_FILE: "lie beyond the end"}
    for image, reason in expected.items():
        assert reason in str(_load(image))


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(NEAR_2_64)
@example(FILESZ_OVER_MEMSZ)
@given(mutated_guests())
def test_vmcore_run_answers_a_bad_image_with_one_line(image: bytes) -> None:
    refused = _load(image)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "guest.elf"
        path.write_bytes(image)
        result = vmcore("--store", "memory", "run", str(path), "--max-instructions", "2000",
                        cwd=Path(directory), env={"VMCORE_MACHINE_SNAPSHOTS":
                                                  os.path.join(directory, "snapshots")})
    assert "Traceback" not in result.stderr, result.stderr
    if refused is not None:
        assert (1, [f"vmcore: error: cannot load guest {str(path)!r}: {refused}"]) == (
            result.returncode, result.stderr.splitlines())
