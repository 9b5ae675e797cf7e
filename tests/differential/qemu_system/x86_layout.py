"""The physical layout and record formats shared with the probe guest (x86_probe/probe_abi.h)."""

from __future__ import annotations

from pathlib import Path

PROBE_DIR = Path(__file__).parent / "x86_probe"

RAM_SIZE = 128 << 20
"""QEMU's ``-m``: the probe and everything it uses live in the low 64 MiB."""
USER_STUB_PA = 0x10_1000
COMMANDS_PA = 0x20_0000
COMMANDS_END = 0x40_0000
TABLES_PA = 0x40_0000
TABLES_END = 0x100_0000
PATTERN_PA = 0x100_0000
PATTERN_END = 0x400_0000
"""Every 8-byte word in [PATTERN_PA, PATTERN_END) holds its own physical address."""

BATCH_MAGIC = 0x45424F5250584D56
HEADER_BYTES = 64
CASE_BYTES = 128
WORDS_PER_CASE = 5
MAX_CASES = (COMMANDS_END - COMMANDS_PA - HEADER_BYTES) // CASE_BYTES

CASE_CPL3 = 1 << 2
CASE_WP = 1 << 3
CASE_SMEP = 1 << 4
CASE_SMAP = 1 << 5
CASE_NXE = 1 << 6
CASE_AC = 1 << 7
CASE_PA_VALID = 1 << 8

DONE_VECTOR = 0x81
"""The probe's "the access completed" software interrupt."""
UD_VECTOR = 6
"""A fetch that reached the ``ud2`` planted at the predicted physical address."""

IDENTITY_SLOT = 0
"""Top-level index that maps the probe's first 4 GiB identity, supervisor-only, in every root."""
USER_SLOT = 1
"""Top-level index that maps the probe's CPL-3 stub page, user-accessible, in every root."""
RESERVED_SLOTS = (IDENTITY_SLOT, USER_SLOT)
