"""The guest's view of memory: virtual loads, stores and fetches through the MMU.

A :class:`MemoryPort` translates virtual addresses through the MMU service
(:class:`vmcore_domain_services.mmu.MmuService`: its first-level micro-TLB, then its sets,
then its Sv39/Sv48/Sv57 walker). The port keeps no cache of its own: its fast paths and the
generated code probe the MMU's first level (``rtlb``, ``wtlb``, ``xtlb`` are its load, store
and fetch maps, ``page number -> pa - va``) inline, so the common case costs one dict
lookup before the physical access in :class:`~vmcore_domain_services.memory.GuestMemory`,
and every TLB invalidation (``sfence.vma``, a context change, a VM event) empties what the
port sees. The port tells the MMU what may enter that level (:meth:`_cacheable`): RAM pages
only (device pages and page-crossing accesses always take the slow path), and never a page
holding translated code for stores: a store to one takes the slow path and calls
``on_code_write``, which drops the blocks whose bytes it overwrote; if there were any,
:class:`~.errors.Resync` stops the running block right after the store.

The machine calls :meth:`flush` when the privilege, ``satp`` or ``mstatus``
MPRV/MPP/SUM/MXR change (the service gets the new satp and context, which empties the first
level) and :meth:`sfence_vma` on ``sfence.vma``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vmcore.domain.runtime import RuntimePublisher, discard_runtime_event
from vmcore_domain_services.memory import GuestMemory, MemoryAccessError
from vmcore_domain_services.mmu import (
    Access,
    AdPolicy,
    MmuService,
    MmuTrap,
    Privilege,
    RiscvContext,
)

from .csr import Mstatus
from .errors import Cause, DeviceAccess, GuestTrap, Resync, WatchHit
from .hart import Hart

__all__ = ["MemoryPort"]

Load = Callable[[int], int]
Store = Callable[[int, int], None]
_M64 = 0xFFFF_FFFF_FFFF_FFFF
_ACCESS_FAULT = {Access.FETCH: Cause.FETCH_ACCESS, Access.LOAD: Cause.LOAD_ACCESS,
                 Access.STORE: Cause.STORE_ACCESS}  # fmt: skip


class MemoryPort:
    """Virtual memory access for one hart. Load functions return 64-bit register values."""

    def __init__(
        self, memory: GuestMemory, hart: Hart, publish: RuntimePublisher = discard_runtime_event
    ) -> None:
        self.memory = memory
        self.hart = hart
        self.mmu = MmuService(memory, context=RiscvContext(Privilege.MACHINE), publish=publish)
        self.mmu.cacheable = self._cacheable
        first_level = self.mmu.tlb.first_level
        self.micro = first_level
        self.xtlb, self.rtlb, self.wtlb = first_level.maps  # by Access: FETCH, LOAD, STORE
        self.code_pages: set[int] = set()
        self.on_code_write: Callable[[int, int], bool] = lambda pa, size: False
        """Called with (physical address, size) for a store to a code page; returns True if
        translated code was overwritten (the store then ends the running block)."""
        self.walks = 0
        self.watches: list[tuple[str, int, int]] = []
        """Debugger watchpoints: (kind "watch"/"rwatch"/"awatch", start, end) virtual ranges."""
        self.watch_armed = True
        """False while the debugger resumes from a watch stop (that access is let through)."""
        self._watched_pages: dict[Access, set[int]] = {Access.LOAD: set(), Access.STORE: set()}
        self._translating = 0
        """The virtual address being translated (what :meth:`_cacheable` judges)."""
        self.translated = False
        """True while a translated block runs: device accesses then raise DeviceAccess."""
        self._fetch_apart = False
        self._paging = False
        self._build()
        self.flush()

    # -- context ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Hand the current satp and context to the MMU service (which empties the first
        level).

        Fetches in M-mode are never translated; loads and stores use mstatus.MPP as their
        privilege when MPRV is set (the service's context is the data context, which is the
        fetch context except in M-mode with MPRV and paging: there fetches are the identity
        and bypass the first level).
        """
        hart = self.hart
        status = hart.csr.mstatus
        satp = hart.csr.satp
        data_priv: int = hart.priv
        if status & Mstatus.MPRV and hart.priv == Privilege.M:
            data_priv = (status >> Mstatus.MPP_SHIFT) & 3
        self.mmu.write_satp(satp)
        self.mmu.set_context(
            RiscvContext(
                privilege=Privilege(data_priv),
                sum=bool(status & Mstatus.SUM),
                mxr=bool(status & Mstatus.MXR),
                ad_policy=AdPolicy.HARDWARE,
            )
        )
        paging = satp >> 60 != 0
        self._paging = paging
        self._fetch_apart = paging and hart.priv == Privilege.M and data_priv != Privilege.M

    def sfence_vma(self, va: int | None = None, asid: int | None = None) -> None:
        """``sfence.vma``: drop the service's matching TLB entries and every micro-TLB."""
        self.mmu.sfence_vma(va, asid)
        self.flush()

    def asid(self) -> int:
        return (self.hart.csr.satp >> 44) & 0xFFFF if self._paging else 0

    def add_code_page(self, page: int) -> None:
        """Mark physical page ``page`` (address >> 12) as holding translated code."""
        self.code_pages.add(page)
        self.micro.forget(Access.STORE, page)

    def _cacheable(self, pa: int, access: Access) -> bool:
        """What may enter the first level: whole RAM pages, for stores not code pages, and
        no page a debugger watches for that access."""
        watched = self._watched_pages.get(access)
        if watched and self._translating >> 12 in watched:
            return False
        return self.memory.in_ram(pa & ~4095, 4096) and not (
            access == Access.STORE and pa >> 12 in self.code_pages
        )

    # -- debugger watchpoints ----------------------------------------------------------------
    def set_watches(self, watches: list[tuple[str, int, int]]) -> None:
        """Watch these virtual ranges: their pages never enter the first level, so every
        access takes the slow path, where a translated block hands the access to the
        interpreter (DeviceAccess) and the interpreter raises :class:`~.errors.WatchHit`
        before the access, leaving the instruction unexecuted (as RISC-V triggers do: gdb
        then steps over it with the watchpoint removed and compares the values)."""
        self.watches = list(watches)
        self._watched_pages = {
            Access.LOAD: {p for k, lo, hi in watches if k != "watch"
                          for p in range(lo >> 12, ((hi - 1) >> 12) + 1)},
            Access.STORE: {p for k, lo, hi in watches if k != "rwatch"
                           for p in range(lo >> 12, ((hi - 1) >> 12) + 1)},
        }
        self.micro.clear()  # pages already in the first level must take the slow path too

    def _check_watch(self, va: int, size: int, write: bool) -> None:
        for kind, lo, hi in self.watches:
            if va < hi and lo < va + size and (kind == "awatch" or (kind == "watch") == write):
                if self.translated:
                    raise DeviceAccess()
                if self.watch_armed:
                    raise WatchHit(kind, max(va, lo))
                return

    # -- translation -----------------------------------------------------------------------
    def translate(self, va: int, access: Access) -> int:
        """The physical address of ``va`` for ``access``; raises a page-fault GuestTrap."""
        if access == Access.FETCH and self._fetch_apart:
            return va
        self.walks += 1
        self._translating = va
        try:
            return self.mmu.translate(va, access)
        except MmuTrap as trap:
            raise GuestTrap(trap.fault.cause, va) from None

    def fetch_page(self, va: int) -> int:
        """Physical base of the RAM page holding code at ``va`` (fills the first level)."""
        delta = self.xtlb.get(va >> 12)
        if delta is not None and not self._fetch_apart:
            return (va & ~4095) + delta
        base = self.translate(va, Access.FETCH) & ~4095
        if not self.memory.in_ram(base, 4096):
            raise GuestTrap(Cause.FETCH_ACCESS, va)
        return base

    def fetch(self, va: int) -> int:
        """The instruction parcel(s) at ``va``: 16 bits if compressed, else 32 bits."""
        read = self.memory.read
        off = va & 4095
        base = self.fetch_page(va)
        lo: int = read(base | off, 2)
        if lo & 3 != 3:
            return lo
        if off <= 4092:
            return lo | read(base | (off + 2), 2) << 16
        nxt = (va + 2) & _M64
        return lo | read(self.fetch_page(nxt) | (nxt & 4095), 2) << 16

    # -- slow paths ------------------------------------------------------------------------
    def load_slow(self, va: int, size: int) -> int:
        if (va & 4095) + size > 4096:
            return sum(self.load_slow((va + i) & _M64, 1) << (8 * i) for i in range(size))
        pa = self.translate(va, Access.LOAD)
        if self.translated and not self.memory.in_ram(pa, size):
            raise DeviceAccess()
        if self.watches:
            self._check_watch(va, size, False)
        try:
            value: int = self.memory.read(pa, size)
        except MemoryAccessError:
            raise GuestTrap(Cause.LOAD_ACCESS, va) from None
        return value

    def store_slow(self, va: int, size: int, value: int) -> None:
        if (va & 4095) + size > 4096:
            # All or nothing: both pages must take the store before any byte is written
            # (QEMU fills the TLB for the first page, then the second, then writes).
            second = ((va | 4095) + 1) & _M64
            for page_va in (va, second):
                pa = self.translate(page_va, Access.STORE)
                if self.translated and not self.memory.in_ram(pa, 1):
                    raise DeviceAccess()
                if not self.memory.is_mapped(pa):
                    raise GuestTrap(Cause.STORE_ACCESS, page_va)
            for i in range(size):
                self.store_slow((va + i) & _M64, 1, value >> (8 * i))
            return
        pa = self.translate(va, Access.STORE)
        if self.translated and not self.memory.in_ram(pa, size):
            raise DeviceAccess()
        if self.watches:
            self._check_watch(va, size, True)
        try:
            self.memory.write(pa, size, value)
        except MemoryAccessError:
            raise GuestTrap(Cause.STORE_ACCESS, va) from None
        if (pa >> 12) in self.code_pages and self.on_code_write(pa, size):
            raise Resync()

    def probe_store(self, va: int) -> None:
        """Raise the store/AMO fault an access to ``va`` would raise (for AMOs, SC)."""
        if self.wtlb.get(va >> 12) is None:
            pa = self.translate(va, Access.STORE)
            if not self.memory.in_ram(pa, 1):
                raise GuestTrap(Cause.STORE_ACCESS, va)

    def block_functions(self) -> dict[str, Callable[..., Any]]:
        """What generated block code calls: the loads and stores by mnemonic, the first
        level's load and store lookups (``rtlb``, ``wtlb``: page number -> pa - va) and the
        physical ``read``/``write``."""
        return {
            **self.loads,
            **self.stores,
            "rtlb": self.rtlb.get,
            "wtlb": self.wtlb.get,
            "read": self.memory.read,
            "write": self.memory.write,
        }

    # -- fast paths ------------------------------------------------------------------------
    def _build(self) -> None:
        rtlb, wtlb = self.rtlb, self.wtlb
        read, write = self.memory.read, self.memory.write
        load_slow, store_slow = self.load_slow, self.store_slow

        def _u(size: int) -> Load:
            last = 4096 - size

            def load(va: int) -> int:
                d = rtlb.get(va >> 12)
                if d is not None and va & 4095 <= last:
                    return read(va + d, size)
                return load_slow(va, size)

            return load

        def _s(size: int) -> Load:
            last = 4096 - size
            sign = 1 << (8 * size - 1)

            def load(va: int) -> int:
                d = rtlb.get(va >> 12)
                if d is not None and va & 4095 <= last:
                    v = read(va + d, size)
                else:
                    v = load_slow(va, size)
                return ((v ^ sign) - sign) & _M64

            return load

        def _st(size: int) -> Store:
            last = 4096 - size
            mask = (1 << (8 * size)) - 1

            def store(va: int, value: int) -> None:
                d = wtlb.get(va >> 12)
                if d is not None and va & 4095 <= last:
                    write(va + d, size, value & mask)
                else:
                    store_slow(va, size, value & mask)

            return store

        self.lb, self.lh, self.lw = _s(1), _s(2), _s(4)
        self.lbu, self.lhu, self.lwu, self.ld = _u(1), _u(2), _u(4), _u(8)
        self.sb, self.sh, self.sw, self.sd = _st(1), _st(2), _st(4), _st(8)
        self.loads: dict[str, Load] = {
            "lb": self.lb, "lh": self.lh, "lw": self.lw, "ld": self.ld,
            "lbu": self.lbu, "lhu": self.lhu, "lwu": self.lwu,
        }  # fmt: skip
        self.stores: dict[str, Store] = {"sb": self.sb, "sh": self.sh, "sw": self.sw, "sd": self.sd}
