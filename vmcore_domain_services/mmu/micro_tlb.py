"""The micro-TLB: the first level of the TLB, for one ASID and one permission context.

Real cores put small first-level TLBs, split by kind of access, in front of a larger
set-associative second level; a micro-TLB is that first level. It holds one dict per
access kind (fetch, load, store), ``4 KiB page number -> pa - va``, and a page is in the
map of an access only once a translation has permitted that access in this context, so a
hit is one dict probe and one addition: no permission re-check, no LRU stamp, no counter.

* **Replacement**: first in, first out (a dict keeps insertion order); a full map drops its
  oldest page on a fill.
* **Non-inclusive**: the set-associative :class:`~vmcore_domain_services.mmu.tlb.Tlb` may
  evict an entry a micro-TLB still holds. Its LRU order sees only micro-TLB misses, as a
  second-level TLB does in hardware.
* **Never stale**: every invalidation of the owning ``Tlb`` empties every micro-TLB, and a
  change of ASID or context selects another micro-TLB (see ``Tlb.micro``); one the
  ``Tlb`` stops tracking is retired, empty for good.
* **Not counted**: hits are not counted (a counter costs as much as the hit; measured in
  ``bench/mmu.py``). ``Tlb`` statistics count what reaches the sets: their hits, and
  misses (walks).
"""

from __future__ import annotations

from collections.abc import Sequence

from vmcore_domain_services.mmu.access import Access

PageMap = dict[int, int]
DEFAULT_CAPACITY = 256


class MicroTlb:
    """The first-level TLB of one ASID (the owning ``Tlb`` keeps track of which) and one
    permission ``table``."""

    __slots__ = ("capacity", "maps", "retired", "table")

    def __init__(self, table: Sequence[int], capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity <= 0:
            raise ValueError(f"a micro-TLB holds at least one page per access: {capacity}")
        self.table = table  # what it was filled under; holding it keeps its id unique
        self.capacity = capacity
        self.maps: tuple[PageMap, PageMap, PageMap] = ({}, {}, {})
        """By :class:`Access`: 4 KiB page number -> physical minus virtual address."""
        self.retired = False

    def lookup(self, va: int, access: Access) -> int | None:
        """The physical address of ``va`` if this micro-TLB holds it for ``access``."""
        delta = self.maps[access].get(va >> 12)
        return None if delta is None else va + delta

    def fill(self, va: int, access: Access, pa: int) -> None:
        """Remember that ``va``'s 4 KiB page is at ``pa``'s for ``access``."""
        if self.retired:
            return
        pages = self.maps[access]
        if len(pages) >= self.capacity and va >> 12 not in pages:
            del pages[next(iter(pages))]
        pages[va >> 12] = pa - va

    def clear(self) -> None:
        for pages in self.maps:
            pages.clear()

    def retire(self) -> None:
        """Empty it for good: its owner no longer invalidates it, so it must never fill
        again (a ``translate`` still bound to it keeps working, through the slow path)."""
        self.retired = True
        self.clear()

    def __len__(self) -> int:
        return sum(len(pages) for pages in self.maps)
