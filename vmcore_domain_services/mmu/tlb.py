"""A set-associative TLB: one array per page size, ASID tags, global entries, LRU.

Each page-size class is ``sets`` dicts of at most ``ways`` entries, keyed by
``vpn << 17 | asid + 1`` (``vpn << 17`` for a global entry): that structure decides what is
cached, what is evicted (LRU within a set) and what each invalidation removes.

In front of it sits a flat *probe map* per ASID, ``4 KiB page number -> entry``: an alias,
for one ASID and one 4 KiB page, of an entry of any size (global and superpage entries get
one alias per ASID and 4 KiB page they have served). A hit is one dict probe there, one
permission re-check and one addition; only a probe-map miss takes the set-associative path,
which then adds the alias. Every entry remembers its aliases and removing the entry (by
eviction or invalidation) removes them, so the probe map never serves what the
set-associative TLB no longer holds.

An entry is a list ``[pa - va delta, permission key, LRU stamp, alias...]``. A hit is
re-checked against the caller's permission table (see
:func:`~vmcore_domain_services.mmu.permissions.tlb_table_for`): it never grants an access
that a fresh walk would deny, nor a store that would first have to set the D bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from attrs import frozen

from vmcore_domain_services.mmu.access import Access
from vmcore_domain_services.mmu.results import Translation

_ASID_SHIFT = 17
_ASID_MASK = (1 << _ASID_SHIFT) - 1
_ALIAS_SHIFT = 52  # alias code: asid << 52 | 4 KiB page number (57-bit VAs: 45 bits)
_PAGE_MASK = (1 << _ALIAS_SHIFT) - 1
MAX_ASID = (1 << 16) - 1
_DELTA, _FLAGS, _STAMP, _ALIASES = 0, 1, 2, 3

_KeyPredicate = Callable[[int], bool]
_RangePredicate = Callable[[int, int], bool]
Entry = list[int]
ProbeMap = dict[int, Entry]
Lookup = Callable[[int, int, int, Sequence[int]], "int | None"]
Translate = Callable[[int, Access], int]
_EMPTY: ProbeMap = {}  # the probe map of every ASID not yet used; never written


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
    ) -> None:
        if min(page_shifts) < 12:
            raise ValueError(f"page sizes start at 4 KiB: {page_shifts}")
        chosen = geometry if geometry is not None else DEFAULT_GEOMETRY
        self._classes = [
            _SizeClass(shift, chosen.get(shift, TlbGeometry(4, 4))) for shift in sorted(page_shifts)
        ]
        self._maps: list[ProbeMap] = [_EMPTY] * (MAX_ASID + 1)
        self._live: dict[int, ProbeMap] = {}  # the probe maps in use, by ASID
        self._clock = [0]  # LRU clock: advanced by every hit and every insert
        self._inserts = 0
        self._hit_base = 0
        self.misses = 0
        self.evictions = 0
        self.lookup: Lookup = _make_lookup(self._maps, self._clock, self._lookup_slow)

    # -- lookup and fill ------------------------------------------------------------------
    def bind(self, asid: int, table: Sequence[int], miss: Translate) -> Translate:
        """A ``translate(va, access)`` for one ASID and permission ``table``: a hit costs
        one dict probe; anything else is handed to ``miss(va, access)``, which should call
        :meth:`lookup_slow` before walking. Rebind after a change of ASID or context."""
        get = self._map_for(asid).get
        clock = self._clock
        permits = _permits(table)

        def translate(va: int, access: Access) -> int:
            entry = get(va >> 12)
            if entry is not None and permits[access][entry[1]]:
                clock[0] = tick = clock[0] + 1
                entry[2] = tick
                return va + entry[0]
            return miss(va, access)

        return translate

    def lookup_slow(self, va: int, asid: int, access: int, table: Sequence[int]) -> int | None:
        """:meth:`lookup` without the probe map: the set-associative search."""
        return self._lookup_slow(va, asid, access, table)

    def _lookup_slow(self, va: int, asid: int, access: int, table: Sequence[int]) -> int | None:
        tag = asid + 1
        for size in self._classes:
            vpn = va >> size.shift
            entries = size.sets[vpn & size.set_mask]
            key = vpn << _ASID_SHIFT
            entry = entries.get(key | tag) or entries.get(key)
            if entry is not None:
                if table[entry[_FLAGS]] >> access & 1:
                    self._clock[0] = tick = self._clock[0] + 1
                    entry[_STAMP] = tick
                    self._alias(entry, asid, va >> 12)
                    return va + entry[_DELTA]
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
        old = entries.get(key)
        if old is not None:
            self._unalias(old)
        else:
            if len(entries) >= size.ways:
                victim = min(entries, key=lambda k: entries[k][_STAMP])
                self._unalias(entries.pop(victim))
                size.count -= 1
                self.evictions += 1
            size.count += 1
        self._clock[0] = tick = self._clock[0] + 1
        self._inserts += 1
        mask = (1 << shift) - 1
        delta = (translation.physical_address & ~mask) - (va & ~mask)
        entry = entries[key] = [delta, translation.flags, tick]
        self._alias(entry, asid, va >> 12)

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
        for probe_map in self._live.values():
            probe_map.clear()
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
                    self._unalias(entries.pop(key))
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
    @property
    def hits(self) -> int:
        """Hits since the last :meth:`reset_stats` (the LRU clock counts hits and inserts)."""
        return self._clock[0] - self._inserts - self._hit_base

    def stats(self) -> TlbStats:
        return TlbStats(self.hits, self.misses, self.evictions, len(self))

    def reset_stats(self) -> None:
        self._hit_base = self._clock[0] - self._inserts
        self.misses = self.evictions = 0

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

    def _map_for(self, asid: int) -> ProbeMap:
        probe_map = self._maps[asid]
        if probe_map is _EMPTY:
            probe_map = self._maps[asid] = self._live[asid] = {}
        return probe_map

    def _alias(self, entry: Entry, asid: int, page: int) -> None:
        self._map_for(asid)[page] = entry
        code = asid << _ALIAS_SHIFT | page
        if code not in entry[_ALIASES:]:
            entry.append(code)

    def _unalias(self, entry: Entry) -> None:
        maps = self._maps
        for code in entry[_ALIASES:]:
            probe_map = maps[code >> _ALIAS_SHIFT]
            page = code & _PAGE_MASK
            if probe_map.get(page) is entry:
                del probe_map[page]

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
                    self._unalias(entries.pop(key))
                size.count -= len(doomed)
                dropped += len(doomed)
        return dropped


def _make_lookup(maps: list[ProbeMap], clock: list[int], slow: Lookup) -> Lookup:
    def lookup(va: int, asid: int, access: int, table: Sequence[int]) -> int | None:
        """The physical address for ``va`` if a cached entry permits ``access`` under the
        permission ``table``; otherwise None (walk, then :meth:`Tlb.insert`). ``asid``
        must be within 0..MAX_ASID (it indexes the probe maps)."""
        entry = maps[asid].get(va >> 12)
        if entry is not None and table[entry[1]] >> access & 1:
            clock[0] = tick = clock[0] + 1
            entry[2] = tick
            return va + entry[0]
        return slow(va, asid, access, table)

    return lookup


_PERMITS: dict[int, tuple[Sequence[int], tuple[tuple[bool, ...], ...]]] = {}


def _permits(table: Sequence[int]) -> tuple[tuple[bool, ...], ...]:
    """``permits[access][flags]``: the permission ``table`` split by access, so that a
    bound hit re-checks with two indexings (cached per table object)."""
    cached = _PERMITS.get(id(table))
    if cached is not None and cached[0] is table:
        return cached[1]
    split = tuple(tuple(bool(rights >> access & 1) for rights in table) for access in range(3))
    if len(_PERMITS) >= 64:  # contexts come from a handful of cached tables; stay bounded
        _PERMITS.clear()
    _PERMITS[id(table)] = (table, split)
    return split


def _asid_matches(key: int, asid: int | None, include_global: bool) -> bool:
    tag = key & _ASID_MASK
    if asid is None:
        return True
    return tag == asid + 1 or (include_global and tag == 0)
