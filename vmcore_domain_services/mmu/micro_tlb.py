"""The micro-TLB: the first level of the TLB, the only one, for the current context.

Real cores put small first-level TLBs, split by kind of access, in front of a larger
set-associative second level; a micro-TLB is that first level. It holds one dict per
access kind (fetch, load, store), ``4 KiB page number -> pa - va``, and a page is in the
map of an access only once a translation has permitted that access in the current context,
so a hit is one dict probe and one addition: no permission re-check, no LRU stamp, no
counter. The executor's memory port and its generated code probe these same dicts inline:
there is no other translation cache in front of the MMU.

* **One context**: a ``Tlb`` has exactly one micro-TLB, bound (:meth:`Tlb.bind`) to the
  current ASID and permission table; binding another context empties it. So does every
  invalidation of the owning ``Tlb``: one invalidation rule for the whole first level.
* **What may enter**: the binder may pass a ``cacheable(pa, access)`` rule; the memory port
  admits RAM pages only, and never a page of translated code for stores.
* **Replacement**: first in, first out (a dict keeps insertion order); a full map drops its
  oldest page on a fill.
* **Non-inclusive**: the set-associative :class:`~vmcore_domain_services.mmu.tlb.Tlb` may
  evict an entry the micro-TLB still holds. Its LRU order sees only micro-TLB misses, as a
  second-level TLB does in hardware.
* **Not counted**: hits are not counted (a counter costs as much as the hit; measured in
  ``bench/mmu.py``). ``Tlb`` statistics count what reaches the sets: their hits, and
  misses (walks).
"""

from __future__ import annotations

from vmcore_domain_services.mmu.access import Access

PageMap = dict[int, int]
DEFAULT_CAPACITY = 256


class MicroTlb:
    """The first-level TLB of the current context (see the module docstring)."""

    __slots__ = ("capacity", "maps")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity <= 0:
            raise ValueError(f"a micro-TLB holds at least one page per access: {capacity}")
        self.capacity = capacity
        self.maps: tuple[PageMap, PageMap, PageMap] = ({}, {}, {})
        """By :class:`Access`: 4 KiB page number -> physical minus virtual address. The
        dicts live as long as the micro-TLB (callers may keep them)."""

    def lookup(self, va: int, access: Access) -> int | None:
        """The physical address of ``va`` if this micro-TLB holds it for ``access``."""
        delta = self.maps[access].get(va >> 12)
        return None if delta is None else va + delta

    def fill(self, va: int, access: Access, pa: int) -> None:
        """Remember that ``va``'s 4 KiB page is at ``pa``'s for ``access``."""
        pages = self.maps[access]
        if len(pages) >= self.capacity and va >> 12 not in pages:
            del pages[next(iter(pages))]
        pages[va >> 12] = pa - va

    def forget(self, access: Access, physical_page: int) -> None:
        """Drop the pages of ``access`` that map to ``physical_page`` (address >> 12)."""
        pages = self.maps[access]
        doomed = [vpn for vpn, delta in pages.items() if (vpn << 12) + delta >> 12 == physical_page]
        for vpn in doomed:
            del pages[vpn]

    def clear(self) -> None:
        for pages in self.maps:
            pages.clear()

    def __len__(self) -> int:
        return sum(len(pages) for pages in self.maps)
