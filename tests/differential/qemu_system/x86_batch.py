"""Cases for the probe guest: what to run, the bytes that tell the probe, and what we expect.

Our walker runs first, on the model memory, in case order (so A/D bits accumulate as they do
in the guest). Its answer decides what the probe may touch: a store or fetch is only sent
when we predict success at a physical address inside the pattern region (the probe plants a
marker or a ``ud2`` there and restores the word afterwards); anything else could overwrite the
probe or the tables. Each case's outcome is reduced to an :class:`Outcome` on both sides.
"""

from __future__ import annotations

import struct

from attrs import evolve, frozen

from tests.differential.qemu_system.x86_address_space import (
    in_pattern,
    in_tables,
    pattern_word,
)
from tests.differential.qemu_system.x86_layout import (
    BATCH_MAGIC,
    CASE_AC,
    CASE_BYTES,
    CASE_CPL3,
    CASE_NXE,
    CASE_PA_VALID,
    CASE_SMAP,
    CASE_SMEP,
    CASE_WP,
    DONE_VECTOR,
    HEADER_BYTES,
    MAX_CASES,
    RAM_SIZE,
    UD_VECTOR,
    WORDS_PER_CASE,
)
from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import Access, PageFault, PagingMode, X86Context, walk

PF_VECTOR = 14
GP_VECTOR = 13
PF_P = 1 << 0
PF_RSVD = 1 << 3
MARKER = 0x5A5A_0000_0000_0000

QEMU_EARLY_1G_ACCESSED = True
"""QEMU 7.2 sets a 1 GiB PDPTE's A bit when it reads it, before the large-page reserved-bit
and permission checks (mmu_translate: ``ptw_setl`` at level 3 precedes the PS test); the
SDM sets a leaf's A only for a translation that succeeds. ``X86Context.qemu_5_0`` models it."""
QEMU_RSVD_WITHOUT_P = True
"""QEMU 7.2 reports a reserved-bit #PF with error code RSVD but without P (mmu_translate:
``do_fault_rsvd: error_code = PG_ERROR_RSVD_MASK`` skips ``do_fault_protect``); the SDM
sets P, as the entry was present. Our model has no option for it: we clear P here."""


def qemu_error_code(error_code: int) -> int:
    """The #PF error code QEMU 7.2 reports where the SDM (and our walker) says ``error_code``."""
    if QEMU_RSVD_WITHOUT_P and error_code & PF_RSVD:
        return error_code & ~PF_P
    return error_code


@frozen
class Outcome:
    """What one access did, in the terms both sides can state.

    ``rip`` is only kept for a fetch that reached the planted ``ud2``; ``value`` is the loaded
    word, or for a store the word found at the predicted address afterwards, when known.
    """

    vector: int
    error_code: int
    cr2: int
    rip: int | None
    value: int | None
    table_hash: int
    words: tuple[int, ...]


@frozen
class ProbeCase:
    root: int
    va: int
    access: Access
    context: X86Context
    predicted_pa: int | None
    """Set when we predict success at an address the probe may read (and, for stores and
    fetches, write) through its identity map."""
    hash_range: tuple[int, int]
    words: tuple[int, ...]
    expected: Outcome
    known_value: bool
    """True when ``expected.value`` came from the model (pattern or tables region); otherwise
    the probe's own identity read of the predicted address stands in for it."""
    reason: str


def table_hash(memory: GuestMemory, start: int, end: int) -> int:
    """FNV-1a over 64-bit words, as the probe computes it."""
    value = 0xCBF2_9CE4_8422_2325
    for (word,) in struct.iter_unpack("<Q", memory.read_bytes(start, end - start)):
        value = ((value ^ word) * 0x100_0000_01B3) & 0xFFFF_FFFF_FFFF_FFFF
    return value


def plan_case(
    mode: PagingMode,
    memory: GuestMemory,
    root: int,
    hash_range: tuple[int, int],
    va: int,
    access: Access,
    context: X86Context,
    index: int,
) -> ProbeCase | None:
    """Walk ``va`` with our model (updating its A/D bits) and plan the probe case, or None
    when the probe must not make this access (a store/fetch outside the pattern region)."""
    model_context = evolve(context, qemu_5_0=QEMU_EARLY_1G_ACCESSED)
    peek = walk(mode, root, va, access, model_context, memory, probe=True)
    if (
        access is not Access.LOAD
        and not isinstance(peek, PageFault)
        and not in_pattern(peek.physical_address & ~7)
    ):
        return None  # a store or fetch the probe must not make outside the pattern region
    ours = walk(mode, root, va, access, model_context, memory)
    digest = table_hash(memory, *hash_range)
    if isinstance(ours, PageFault):
        cr2 = va if ours.cause == PF_VECTOR else 0
        code = qemu_error_code(ours.error_code)
        expected = Outcome(ours.cause, code, cr2, None, None, digest, (0,) * 5)
        return ProbeCase(
            root, va, access, context, None, hash_range, (0,) * 5, expected, True, ours.reason
        )
    pa = ours.physical_address
    words = ours.pte_addresses + (0,) * (WORDS_PER_CASE - len(ours.pte_addresses))
    word_values = tuple(memory.read(address, 8) if address else 0 for address in words)
    predicted = pa if pa < RAM_SIZE else None
    value: int | None = None
    if access is Access.STORE:
        value = MARKER | index
    elif access is Access.LOAD and in_pattern(pa):
        value = pattern_word(pa)
    elif access is Access.LOAD and in_tables(pa):
        value = memory.read(pa & ~7, 8)
    known = value is not None or predicted is None or access is not Access.LOAD
    vector = UD_VECTOR if access is Access.FETCH else DONE_VECTOR
    rip = va if access is Access.FETCH else None
    expected = Outcome(vector, 0, 0, rip, value, digest, word_values)
    return ProbeCase(
        root, va, access, context, predicted, hash_range, words, expected, known, "translated"
    )


def observed_outcome(case: ProbeCase, fields: list[int]) -> Outcome:
    """Reduce the probe's report (the numbers after ``C <index>``) to an :class:`Outcome`."""
    vector, error_code, rip, cr2, rax, check, digest, *words = fields
    value: int | None = None
    if vector == DONE_VECTOR and case.predicted_pa is not None:
        if case.access is Access.LOAD:
            value = rax if case.known_value else (rax if rax != check else None)
        elif case.access is Access.STORE:
            value = check
    return Outcome(
        vector,
        error_code,
        cr2,
        rip if vector == UD_VECTOR else None,
        value,
        digest,
        tuple(words),
    )


def case_flags(case: ProbeCase) -> int:
    context = case.context
    flags = int(case.access)
    flags |= CASE_CPL3 if context.cpl == 3 else 0
    flags |= CASE_WP if context.wp else 0
    flags |= CASE_SMEP if context.smep else 0
    flags |= CASE_SMAP if context.smap else 0
    flags |= CASE_NXE if context.nxe else 0
    flags |= CASE_AC if context.ac else 0
    flags |= CASE_PA_VALID if case.predicted_pa is not None else 0
    return flags


def encode_batch(levels: int, boot_root: int, user_stub_va: int, cases: list[ProbeCase]) -> bytes:
    """The commands blob the probe reads at ``COMMANDS_PA``."""
    if len(cases) > MAX_CASES:
        raise ValueError(f"{len(cases)} cases do not fit in one batch ({MAX_CASES})")
    out = bytearray(struct.pack("<5Q", BATCH_MAGIC, levels, boot_root, len(cases), user_stub_va))
    out += bytes(HEADER_BYTES - len(out))
    for case in cases:
        start, end = case.hash_range
        record = struct.pack(
            "<6Q5Q",
            case.root,
            case.va,
            case_flags(case),
            case.predicted_pa or 0,
            start,
            end - start,
            *case.words,
        )
        out += record + bytes(CASE_BYTES - len(record))
    return bytes(out)
