"""The guest's view of memory: virtual loads, stores and fetches through the MMU.

A :class:`MemoryPort` translates virtual addresses through the MMU service
(:class:`vmcore_domain_services.mmu.MmuService`: its TLB, then its Sv39/Sv48 walker) and
keeps each result in three small per-context micro-TLBs in front of it (read, write,
execute: virtual page -> physical page base), so the common case costs one dict lookup
before the physical access in :class:`~vmcore_domain_services.memory.GuestMemory`. Only RAM
pages are cached; device pages and page-crossing accesses always take the slow path.

The micro-TLBs hold the rights of the current context, so the machine calls :meth:`flush`
when the privilege, ``satp`` or ``mstatus`` MPRV/MPP/SUM/MXR change (the service gets the
new satp and context) and :meth:`sfence_vma` on ``sfence.vma`` (the service's TLB too).
Physical pages holding translated code are never cached for writing: a store to one takes
the slow path and calls ``on_code_write``, which drops the blocks whose bytes it overwrote;
if there were any, :class:`~.errors.Resync` stops the running block right after the store.
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

from .csr import Mstatus, Priv
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
        self.rtlb: dict[int, int] = {}
        self.wtlb: dict[int, int] = {}
        self.xtlb: dict[int, int] = {}
        self.code_pages: set[int] = set()
        self.on_code_write: Callable[[int, int], bool] = lambda pa, size: False
        """Called with (physical address, size) for a store to a code page; returns True if
        translated code was overwritten (the store then ends the running block)."""
        self.walks = 0
        self.watches: list[tuple[str, int, int]] = []
        """Debugger watchpoints: (kind "watch"/"rwatch"/"awatch", start, end) virtual ranges."""
        self.watch_armed = True
        """False while the debugger resumes from a watch stop (that access is let through)."""
        self._unwatched_read: set[int] = set()
        self._unwatched_write: set[int] = set()
        self.translated = False
        """True while a translated block runs: device accesses then raise DeviceAccess."""
        self._data_bare = True
        self._fetch_bare = True
        self._paging = False
        self._build()
        self.flush()

    # -- context ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Forget the micro-TLBs and hand the current satp and context to the MMU service.

        Fetches in M-mode are never translated; loads and stores use mstatus.MPP as their
        privilege when MPRV is set (the service's context is the data context, which is the
        fetch context whenever the hart is below M-mode).
        """
        self.rtlb.clear()
        self.wtlb.clear()
        self.xtlb.clear()
        hart = self.hart
        status = hart.csr.mstatus
        satp = hart.csr.satp
        data_priv = hart.priv
        if status & Mstatus.MPRV and hart.priv == Priv.M:
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
        self._data_bare = not paging or data_priv == Priv.M
        self._fetch_bare = not paging or hart.priv == Priv.M

    def sfence_vma(self, va: int | None = None, asid: int | None = None) -> None:
        """``sfence.vma``: drop the service's matching TLB entries and every micro-TLB."""
        self.mmu.sfence_vma(va, asid)
        self.flush()

    def asid(self) -> int:
        return (self.hart.csr.satp >> 44) & 0xFFFF if self._paging else 0

    def add_code_page(self, page: int) -> None:
        """Mark physical page ``page`` (address >> 12) as holding translated code."""
        self.code_pages.add(page)
        base = page << 12
        for vpn in [vpn for vpn, b in self.wtlb.items() if b == base]:
            del self.wtlb[vpn]

    # -- debugger watchpoints ----------------------------------------------------------------
    def set_watches(self, watches: list[tuple[str, int, int]]) -> None:
        """Watch these virtual ranges: their pages never enter the micro-TLBs, so every access
        takes the slow path, where a translated block hands the access to the interpreter
        (DeviceAccess) and the interpreter raises :class:`~.errors.WatchHit` before the
        access, leaving the instruction unexecuted (as RISC-V triggers do: gdb then steps
        over it with the watchpoint removed and compares the values)."""
        self.watches = list(watches)
        self._unwatched_read = {p for k, lo, hi in watches if k != "watch"
                                for p in range(lo >> 12, ((hi - 1) >> 12) + 1)}
        self._unwatched_write = {p for k, lo, hi in watches if k != "rwatch"
                                 for p in range(lo >> 12, ((hi - 1) >> 12) + 1)}
        self.flush()

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
        if self._fetch_bare if access == Access.FETCH else self._data_bare:
            return va
        self.walks += 1
        try:
            return self.mmu.translate(va, access)
        except MmuTrap as trap:
            raise GuestTrap(trap.fault.cause, va) from None

    def fetch_page(self, va: int) -> int:
        """Physical base of the RAM page holding code at ``va`` (fills the execute TLB)."""
        base = self.xtlb.get(va >> 12)
        if base is None:
            pa = self.translate(va, Access.FETCH)
            base = pa & ~4095
            if not self.memory.in_ram(base, 4096):
                raise GuestTrap(Cause.FETCH_ACCESS, va)
            self.xtlb[va >> 12] = base
        return base

    def fetch(self, va: int) -> int:
        """The instruction parcel(s) at ``va``: 16 bits if compressed, else 32 bits."""
        read = self.memory.read
        off = va & 4095
        lo: int = read(self.fetch_page(va) | off, 2)
        if lo & 3 != 3:
            return lo
        if off <= 4092:
            return lo | read(self.xtlb[va >> 12] | (off + 2), 2) << 16
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
        base = pa & ~4095
        if self.memory.in_ram(base, 4096) and (va >> 12) not in self._unwatched_read:
            self.rtlb[va >> 12] = base
        return value

    def store_slow(self, va: int, size: int, value: int) -> None:
        if (va & 4095) + size > 4096:
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
        base = pa & ~4095
        if (pa >> 12) in self.code_pages:
            if self.on_code_write(pa, size):
                raise Resync()
            return
        if self.memory.in_ram(base, 4096) and (va >> 12) not in self._unwatched_write:
            self.wtlb[va >> 12] = base

    def probe_store(self, va: int) -> None:
        """Raise the store/AMO fault an access to ``va`` would raise (for AMOs, SC)."""
        if self.wtlb.get(va >> 12) is None:
            pa = self.translate(va, Access.STORE)
            if not self.memory.in_ram(pa, 1):
                raise GuestTrap(Cause.STORE_ACCESS, va)

    def block_functions(self) -> dict[str, Callable[..., Any]]:
        """What generated block code calls: the loads and stores by mnemonic, the read and
        write micro-TLB lookups (``rtlb``, ``wtlb``) and the physical ``read``/``write``."""
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
                b = rtlb.get(va >> 12)
                if b is not None and va & 4095 <= last:
                    return read(b | (va & 4095), size)
                return load_slow(va, size)

            return load

        def _s(size: int) -> Load:
            last = 4096 - size
            sign = 1 << (8 * size - 1)

            def load(va: int) -> int:
                b = rtlb.get(va >> 12)
                if b is not None and va & 4095 <= last:
                    v = read(b | (va & 4095), size)
                else:
                    v = load_slow(va, size)
                return ((v ^ sign) - sign) & _M64

            return load

        def _st(size: int) -> Store:
            last = 4096 - size
            mask = (1 << (8 * size)) - 1

            def store(va: int, value: int) -> None:
                b = wtlb.get(va >> 12)
                if b is not None and va & 4095 <= last:
                    write(b | (va & 4095), size, value & mask)
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
