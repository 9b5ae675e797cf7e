"""A set-associative TLB: one array per page size, ASID tags, global entries, LRU.

Each page-size class is ``sets`` dicts of at most ``ways`` entries, keyed by
``vpn << 17 | asid + 1`` (``vpn << 17`` for a global entry), so a lookup is one or two dict
probes per populated class. Entries keep the permission key of their translation and a hit
is re-checked against the caller's permission table (see
:func:`~vmcore_domain_services.mmu.permissions.tlb_table_for`): a hit never grants an access
that a fresh walk would deny, nor a store that would first have to set the D bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from attrs import frozen

from vmcore_domain_services.mmu.results import Translation

_ASID_SHIFT = 17
_ASID_MASK = (1 << _ASID_SHIFT) - 1
MAX_ASID = (1 << 16) - 1

_KeyPredicate = Callable[[int], bool]
_RangePredicate = Callable[[int, int], bool]


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
    hits: int
    misses: int
    evictions: int
    entries: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class _Entry:
    __slots__ = ("flags", "mask", "pa_base", "stamp")

    def __init__(self, pa_base: int, mask: int, flags: int, stamp: int) -> None:
        self.pa_base = pa_base
        self.mask = mask
        self.flags = flags
        self.stamp = stamp


class _SizeClass:
    __slots__ = ("count", "set_mask", "sets", "shift", "ways")

    def __init__(self, shift: int, geometry: TlbGeometry) -> None:
        self.shift = shift
        self.set_mask = geometry.sets - 1
        self.ways = geometry.ways
        self.sets: list[dict[int, _Entry]] = [{} for _ in range(geometry.sets)]
        self.count = 0


class Tlb:
    """Caches translations per (virtual page, ASID); see the module docstring."""

    def __init__(
        self,
        page_shifts: Sequence[int] = (12, 21, 30),
        geometry: Mapping[int, TlbGeometry] | None = None,
    ) -> None:
        chosen = geometry if geometry is not None else DEFAULT_GEOMETRY
        self._classes = [
            _SizeClass(shift, chosen.get(shift, TlbGeometry(4, 4))) for shift in sorted(page_shifts)
        ]
        small = self._classes[0]
        self._small_shift = small.shift
        self._small_sets = small.sets
        self._small_set_mask = small.set_mask
        self._active_large: list[_SizeClass] = []
        self._tick = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    # -- lookup and fill ------------------------------------------------------------------
    def lookup(self, va: int, asid: int, access: int, table: Sequence[int]) -> int | None:
        """The physical address for ``va`` if a cached entry permits ``access`` under the
        permission ``table``; otherwise None (walk, then :meth:`insert`)."""
        # The smallest page size is probed first without a loop: it serves most hits.
        vpn = va >> self._small_shift
        entries = self._small_sets[vpn & self._small_set_mask]
        key = vpn << _ASID_SHIFT
        entry = entries.get(key | (asid + 1)) or entries.get(key)
        if entry is None:
            return self._lookup_large(va, asid, access, table)
        if table[entry.flags] >> access & 1:
            self._tick = tick = self._tick + 1
            entry.stamp = tick
            self.hits += 1
            return entry.pa_base | (va & entry.mask)
        self.misses += 1
        return None

    def _lookup_large(self, va: int, asid: int, access: int, table: Sequence[int]) -> int | None:
        tag = asid + 1
        for size in self._active_large:
            vpn = va >> size.shift
            entries = size.sets[vpn & size.set_mask]
            key = vpn << _ASID_SHIFT
            entry = entries.get(key | tag) or entries.get(key)
            if entry is not None:
                if table[entry.flags] >> access & 1:
                    self._tick += 1
                    entry.stamp = self._tick
                    self.hits += 1
                    return entry.pa_base | (va & entry.mask)
                break
        self.misses += 1
        return None

    def insert(self, va: int, asid: int, translation: Translation) -> None:
        """Cache ``translation`` of ``va`` (global entries match every ASID). A page larger
        than every size class is cached as the part of it that contains ``va``."""
        if not 0 <= asid <= MAX_ASID:
            raise ValueError(f"ASID must be within 0..{MAX_ASID}: {asid}")
        size = self._class_for(translation.page_size)
        shift = size.shift
        vpn = va >> shift
        key = (vpn << _ASID_SHIFT) | (0 if translation.global_mapping else asid + 1)
        entries = size.sets[vpn & size.set_mask]
        if key not in entries:
            if len(entries) >= size.ways:
                victim = min(entries, key=lambda k: entries[k].stamp)
                del entries[victim]
                size.count -= 1
                self.evictions += 1
            size.count += 1
            if size.count == 1:
                self._activate()
        self._tick += 1
        mask = (1 << shift) - 1
        entries[key] = _Entry(
            translation.physical_address & ~mask, mask, translation.flags, self._tick
        )

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
        self._active_large = []
        return dropped

    def invalidate_address(
        self, va: int, asid: int | None = None, include_global: bool = True
    ) -> int:
        """Drop the entries covering ``va``: of every ASID if ``asid`` is None, else of
        that ASID (and global ones when ``include_global``)."""
        dropped = 0
        for size in self._classes:
            vpn = va >> size.shift
            entries = size.sets[vpn & size.set_mask]
            for key in [k for k in entries if k >> _ASID_SHIFT == vpn]:
                if _asid_matches(key, asid, include_global):
                    del entries[key]
                    size.count -= 1
                    dropped += 1
        self._activate()
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
                        entry.flags,
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

    def _activate(self) -> None:
        self._active_large = [size for size in self._classes[1:] if size.count]

    def _drop_where(
        self,
        matches: _KeyPredicate,
        overlaps: _RangePredicate | None = None,
    ) -> int:
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
        self._activate()
        return dropped


def _asid_matches(key: int, asid: int | None, include_global: bool) -> bool:
    tag = key & _ASID_MASK
    if asid is None:
        return True
    return tag == asid + 1 or (include_global and tag == 0)
