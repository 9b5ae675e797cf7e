"""What a walk returns: a translation, or a fault as a value."""

from __future__ import annotations

from typing import NamedTuple

from vmcore_domain_services.mmu.access import Access


class Translation(NamedTuple):
    """A successful walk.

    ``flags`` is the architecture's permission key (RISC-V: the leaf PTE's low byte;
    x86-64: see :mod:`vmcore_domain_services.mmu.permissions`); ``rights`` the accesses the
    walk's context may make through it (bits of :class:`Access`), before A/D handling.
    """

    physical_address: int
    page_size: int
    flags: int
    rights: int
    global_mapping: bool
    pte_addresses: tuple[int, ...]
    leaf_pte: int


class PageFault(NamedTuple):
    """A failed walk, as the architecture reports it.

    RISC-V: ``cause`` is 12/13/15 (page fault on fetch/load/store) or 1/5/7 (access fault,
    when a PTE lies outside memory); ``address`` is stval. x86-64: ``cause`` is 14 (#PF,
    ``address`` is CR2, ``error_code`` has P/W/U/RSVD/I) or 13 (#GP for a non-canonical
    address, error code 0). ``reason`` says which rule failed, for people.
    """

    cause: int
    address: int
    access: Access
    error_code: int
    reason: str
