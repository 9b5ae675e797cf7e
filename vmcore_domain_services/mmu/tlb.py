"""The TLB: micro-TLBs in front of a set-associative TLB with ASID tags, global entries, LRU.

The set-associative level decides what is cached, what is evicted and what each
invalidation removes. Each page-size class is ``sets`` dicts of at most ``ways`` entries,
keyed by ``vpn << 17 | asid + 1`` (``vpn << 17`` for a global entry). An entry is a list
``[pa - va delta, permission key, LRU stamp]``; a hit is re-checked against the caller's
permission table (see :func:`~vmcore_domain_services.mmu.permissions.tlb_table_for`), so
it never grants an access that a fresh walk would deny, nor a store that would first have
to set the D bit. Replacement within a set is exact LRU.

In front of it sits the first level, one :class:`~vmcore_domain_services.mmu.micro_tlb.MicroTlb`
for the current context. :meth:`Tlb.bind` empties it and returns the ``translate(va,
access)`` that probes it and falls back to the sets, then to a walk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from attrs import frozen

from vmcore_domain_services.mmu.access import Access
from vmcore_domain_services.mmu.micro_tlb import DEFAULT_CAPACITY, MicroTlb
from vmcore_domain_services.mmu.results import Translation

_ASID_SHIFT = 17
_ASID_MASK = (1 << _ASID_SHIFT) - 1
MAX_ASID = (1 << 16) - 1
_DELTA, _FLAGS, _STAMP = 0, 1, 2

_KeyPredicate = Callable[[int], bool]
_RangePredicate = Callable[[int, int], bool]
Entry = list[int]
Translate = Callable[[int, Access], int]
Cacheable = Callable[[int, Access], bool]


@frozen
class TlbGeometry:
    """``sets`` (a power of two) times ``ways`` entries for one page size."""

    sets: int = 64
    ways: int = 4

    def __attrs_post_init__(self) -> None:
        if self.sets <= 0 or self.sets & (self.sets - 1) or self.ways <= 0:
            raise ValueError(f"sets must be a power of two and ways positive: {self}")


DEFAULT_GEOMETRY: Mapping[int, TlbGeometry] = {
    12: TlbGeometry(64, 8),
    21: TlbGeometry(16, 4),
    30: TlbGeometry(4, 4),
    39: TlbGeometry(1, 4),
}


@frozen
class TlbStats:
    """What reached the set-associative level: its ``hits``, its ``misses`` (each one a
    walk, unless the caller gave up) and ``evictions``; micro-TLB hits are not counted."""

    hits: int
    misses: int
    evictions: int
    entries: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class _SizeClass:
    __slots__ = ("count", "set_mask", "sets", "shift", "ways")

    def __init__(self, shift: int, geometry: TlbGeometry) -> None:
        self.shift = shift
        self.set_mask = geometry.sets - 1
        self.ways = geometry.ways
        self.sets: list[dict[int, Entry]] = [{} for _ in range(geometry.sets)]
        self.count = 0


class Tlb:
    """Caches translations per (virtual page, ASID); see the module docstring."""

    def __init__(
        self,
        page_shifts: Sequence[int] = (12, 21, 30),
        geometry: Mapping[int, TlbGeometry] | None = None,
        micro_capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        if min(page_shifts) < 12:
            raise ValueError(f"page sizes start at 4 KiB: {page_shifts}")
        chosen = geometry if geometry is not None else DEFAULT_GEOMETRY
        self._classes = [
            _SizeClass(shift, chosen.get(shift, TlbGeometry(4, 4))) for shift in sorted(page_shifts)
        ]
        self.first_level = MicroTlb(micro_capacity)
        """The micro-TLB of the context last bound (see :meth:`bind`)."""
        self._clock = 0  # LRU clock: advanced by every hit and every insert
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    # -- lookup and fill ------------------------------------------------------------------
    def bind(
        self,
        asid: int,
        table: Sequence[int],
        walk: Translate,
        cacheable: Cacheable | None = None,
        *,
        sets: bool = True,
    ) -> Translate:
        """A ``translate(va, access)`` for one ASID and permission ``table``: the first
        level, then the sets (unless ``sets`` is False: Bare mode caches no walk), then
        ``walk(va, access)``, which must return the physical address after inserting the
        translation (or raise for a fault). A result fills the first level if
        ``cacheable(pa, access)`` allows it (default: always).

        Binding empties the first level and hands it to the new context: a ``translate``
        bound earlier must not be used again (``MmuService`` rebinds its own attribute).
        """
        _check_asid(asid)
        micro = self.first_level
        micro.clear()
        maps = micro.maps
        fill = micro.fill
        lookup = self.lookup

        def refill(va: int, access: Access) -> int:
            pa = lookup(va, asid, access, table) if sets else None
            if pa is None:
                pa = walk(va, access)
            if cacheable is None or cacheable(pa, access):
                fill(va, access, pa)
            return pa

        def translate(va: int, access: Access) -> int:
            # A subscript of an exact dict is the cheapest probe (specialised, no method
            # call, no None test); a miss raises KeyError, rarer and dearer than a hit.
            try:
                return va + maps[access][va >> 12]
            except KeyError:
                pass  # leave the handler first, so a fault does not chain the KeyError
            return refill(va, access)

        return translate

    def lookup(self, va: int, asid: int, access: int, table: Sequence[int]) -> int | None:
        """The physical address for ``va`` if the sets hold an entry of ``asid`` (or a
        global one) that permits ``access`` under the permission ``table``; otherwise None
        (walk, then :meth:`insert`). Counts a hit or a miss and refreshes the LRU order."""
        _check_asid(asid)
        tag = asid + 1
        for size in self._classes:
            vpn = va >> size.shift
            entries = size.sets[vpn & size.set_mask]
            key = vpn << _ASID_SHIFT
            entry = entries.get(key | tag) or entries.get(key)
            if entry is not None:
                if table[entry[_FLAGS]] >> access & 1:
                    self._clock += 1
                    entry[_STAMP] = self._clock
                    self.hits += 1
                    return va + entry[_DELTA]
                break
        self.misses += 1
        return None

    def insert(self, va: int, asid: int, translation: Translation) -> None:
        """Cache ``translation`` of ``va`` (global entries match every ASID). A page larger
        than every size class is cached as the part of it that contains ``va``."""
        _check_asid(asid)
        size = self._class_for(translation.page_size)
        shift = size.shift
        vpn = va >> shift
        key = (vpn << _ASID_SHIFT) | (0 if translation.global_mapping else asid + 1)
        entries = size.sets[vpn & size.set_mask]
        if key not in entries:
            if len(entries) >= size.ways:
                del entries[min(entries, key=lambda k: entries[k][_STAMP])]
                size.count -= 1
                self.evictions += 1
            size.count += 1
        self._clock += 1
        mask = (1 << shift) - 1
        delta = (translation.physical_address & ~mask) - (va & ~mask)
        entries[key] = [delta, translation.flags, self._clock]

    # -- invalidation ---------------------------------------------------------------------
    def flush(self, keep_global: bool = False) -> int:
        """Drop every entry (or every non-global one); returns how many were dropped."""
        if keep_global:
            return self._drop_where(lambda key: key & _ASID_MASK != 0)
        dropped = sum(size.count for size in self._classes)
        for size in self._classes:
            for entries in size.sets:
                entries.clear()
            size.count = 0
        self._clear_micros()
        return dropped

    def invalidate_address(
        self, va: int, asid: int | None = None, include_global: bool = True
    ) -> int:
        """Drop the entries covering ``va``: of every ASID if ``asid`` is None, else of
        that ASID (and global ones when ``include_global``)."""
        self._clear_micros()
        dropped = 0
        for size in self._classes:
            vpn = va >> size.shift
            entries = size.sets[vpn & size.set_mask]
            for key in [k for k in entries if k >> _ASID_SHIFT == vpn]:
                if _asid_matches(key, asid, include_global):
                    del entries[key]
                    size.count -= 1
                    dropped += 1
        return dropped

    def invalidate_asid(self, asid: int) -> int:
        """Drop the non-global entries of ``asid``."""
        return self._drop_where(lambda key: key & _ASID_MASK == asid + 1)

    def invalidate_range(self, start: int, end: int, asid: int | None = None) -> int:
        """Drop the entries whose pages overlap ``[start, end)`` (of ``asid`` and global
        ones, or of every ASID if None)."""

        def overlaps(key: int, shift: int) -> bool:
            page = (key >> _ASID_SHIFT) << shift
            return page < end and start < page + (1 << shift)

        return self._drop_where(lambda key: _asid_matches(key, asid, True), overlaps)

    def sfence_vma(self, va: int | None = None, asid: int | None = None) -> int:
        """RISC-V ``sfence.vma rs1, rs2``: None stands for x0."""
        if va is None:
            return self.flush() if asid is None else self.invalidate_asid(asid)
        return self.invalidate_address(va, asid, include_global=asid is None)

    # -- statistics -----------------------------------------------------------------------
    def stats(self) -> TlbStats:
        return TlbStats(self.hits, self.misses, self.evictions, len(self))

    def reset_stats(self) -> None:
        self.hits = self.misses = self.evictions = 0

    def __len__(self) -> int:
        return sum(size.count for size in self._classes)

    def entries(self) -> Iterable[tuple[int, int | None, int, int]]:
        """Every entry as ``(virtual page base, ASID or None if global, page size, flags)``."""
        for size in self._classes:
            for entries in size.sets:
                for key, entry in entries.items():
                    tag = key & _ASID_MASK
                    yield (
                        (key >> _ASID_SHIFT) << size.shift,
                        tag - 1 if tag else None,
                        1 << size.shift,
                        entry[_FLAGS],
                    )

    # -- helpers --------------------------------------------------------------------------
    def _class_for(self, page_size: int) -> _SizeClass:
        chosen = self._classes[0]
        for size in self._classes:
            if 1 << size.shift <= page_size:
                chosen = size
        if 1 << chosen.shift > page_size:
            raise ValueError(f"no TLB size class fits a {page_size}-byte page")
        return chosen

    def _clear_micros(self) -> None:
        self.first_level.clear()

    def _drop_where(
        self,
        matches: _KeyPredicate,
        overlaps: _RangePredicate | None = None,
    ) -> int:
        self._clear_micros()
        dropped = 0
        for size in self._classes:
            for entries in size.sets:
                doomed = [
                    key
                    for key in entries
                    if matches(key) and (overlaps is None or overlaps(key, size.shift))
                ]
                for key in doomed:
                    del entries[key]
                size.count -= len(doomed)
                dropped += len(doomed)
        return dropped


def _check_asid(asid: int) -> None:
    if not 0 <= asid <= MAX_ASID:
        raise ValueError(f"ASID must be within 0..{MAX_ASID}: {asid}")


def _asid_matches(key: int, asid: int | None, include_global: bool) -> bool:
    tag = key & _ASID_MASK
    if asid is None:
        return True
    return tag == asid + 1 or (include_global and tag == 0)
