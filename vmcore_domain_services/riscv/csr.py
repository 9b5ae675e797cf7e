"""The control and status registers of one RV64 hart (M, S and U modes).

Reads and writes are checked against the current privilege (CSR address bits 9:8 give
the lowest privilege, bits 11:10 == 3 mark read-only) and raise an illegal-instruction
:class:`GuestTrap` when not allowed. Writes that change address translation (``satp``,
``mstatus`` MPRV/MPP/SUM/MXR) call ``on_translation_change``. ``satp`` takes the modes the MMU
walks (Bare, Sv39, Sv48, Sv57); a write of any other MODE has no effect (privileged spec
4.1.11). WARL registers (``misa``) ignore what they cannot hold and never trap.
"""

from __future__ import annotations

from collections.abc import Callable

from vmcore_domain_services.mmu.access import Privilege

from .errors import Cause, GuestTrap

__all__ = ["Csr", "CsrFile", "Mstatus"]


class Csr:
    SSTATUS = 0x100
    SIE = 0x104
    STVEC = 0x105
    SCOUNTEREN = 0x106
    SENVCFG = 0x10A
    SSCRATCH = 0x140
    SEPC = 0x141
    SCAUSE = 0x142
    STVAL = 0x143
    SIP = 0x144
    SATP = 0x180
    MSTATUS = 0x300
    MISA = 0x301
    MEDELEG = 0x302
    MIDELEG = 0x303
    MIE = 0x304
    MTVEC = 0x305
    MCOUNTEREN = 0x306
    MENVCFG = 0x30A
    MCOUNTINHIBIT = 0x320
    MSCRATCH = 0x340
    MEPC = 0x341
    MCAUSE = 0x342
    MTVAL = 0x343
    MIP = 0x344
    MCYCLE = 0xB00
    MINSTRET = 0xB02
    CYCLE = 0xC00
    TIME = 0xC01
    INSTRET = 0xC02
    MVENDORID = 0xF11
    MARCHID = 0xF12
    MIMPID = 0xF13
    MHARTID = 0xF14
    MCONFIGPTR = 0xF15


class Mstatus:
    SIE = 1 << 1
    MIE = 1 << 3
    SPIE = 1 << 5
    MPIE = 1 << 7
    SPP = 1 << 8
    MPP_SHIFT = 11
    MPP = 3 << 11
    MPRV = 1 << 17
    SUM = 1 << 18
    MXR = 1 << 19
    TVM = 1 << 20
    TW = 1 << 21
    TSR = 1 << 22
    XLEN64 = (2 << 32) | (2 << 34)


MISA = (2 << 62) | (1 << 0) | (1 << 2) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20)
_M = Mstatus
_MSTATUS_W = (
    _M.SIE | _M.MIE | _M.SPIE | _M.MPIE | _M.SPP | _M.MPP | _M.MPRV | _M.SUM | _M.MXR
    | _M.TVM | _M.TW | _M.TSR
)  # fmt: skip
_SSTATUS_MASK = _M.SIE | _M.SPIE | _M.SPP | _M.SUM | _M.MXR | (3 << 32)
_TRANSLATION_BITS = _M.MPRV | _M.MPP | _M.SUM | _M.MXR
_S_INTS = 0x222  # SSIP, STIP, SEIP
_MIP_W = 0x222
_MIE_W = 0xAAA
MTIP = 1 << 7
_PLAIN_RW = {
    Csr.STVEC, Csr.SCOUNTEREN, Csr.SENVCFG, Csr.SSCRATCH, Csr.SEPC, Csr.SCAUSE, Csr.STVAL,
    Csr.MTVEC, Csr.MCOUNTEREN, Csr.MENVCFG, Csr.MCOUNTINHIBIT, Csr.MSCRATCH, Csr.MEPC,
    Csr.MCAUSE, Csr.MTVAL, Csr.MEDELEG, Csr.MIDELEG,
}  # fmt: skip
_ZERO_RO = {Csr.MVENDORID, Csr.MARCHID, Csr.MIMPID, Csr.MHARTID, Csr.MCONFIGPTR}


def _pmp(num: int) -> bool:
    return 0x3A0 <= num <= 0x3EF


def _hpm(num: int) -> bool:
    """mhpmevent3-31, mhpmcounter3-31 and their user views hpmcounter3-31: hardwired to
    zero (the spec allows it; QEMU 5.0 does the same), writes to the M-mode ones ignored.
    hpmcounterN is readable wherever cycle and instret are (no counter-enable checks)."""
    return 0x323 <= num <= 0x33F or 0xB03 <= num <= 0xB1F or 0xC03 <= num <= 0xC1F


class CsrFile:
    """CSR state: a dict of stored values plus the derived views (sstatus, sie, sip)."""

    def __init__(
        self,
        instret: Callable[[], int],
        mtime: Callable[[], int],
        device_pending: Callable[[], int],
        satp_modes: frozenset[int] = frozenset({0, 8, 9, 10}),
    ) -> None:
        self.values: dict[int, int] = dict.fromkeys(_PLAIN_RW, 0)
        self.values[Csr.MSTATUS] = _M.XLEN64
        self.values[Csr.MIE] = 0
        self.values[Csr.MIP] = 0
        self.values[Csr.SATP] = 0
        self._instret = instret
        self._mtime = mtime
        self._device_pending = device_pending
        self._satp_modes = satp_modes
        self.on_translation_change: Callable[[], None] = lambda: None

    # -- fast accessors used by traps and translation ----------------------------------
    @property
    def mstatus(self) -> int:
        return self.values[Csr.MSTATUS]

    @mstatus.setter
    def mstatus(self, value: int) -> None:
        old = self.values[Csr.MSTATUS]
        self.values[Csr.MSTATUS] = value
        if (old ^ value) & _TRANSLATION_BITS:
            self.on_translation_change()

    @property
    def satp(self) -> int:
        return self.values[Csr.SATP]

    def mip(self) -> int:
        return self.values[Csr.MIP] | self._device_pending()

    # -- architectural access -----------------------------------------------------------
    def check(self, num: int, priv: int, write: bool) -> None:
        if priv < (num >> 8) & 3 or (write and (num >> 10) & 3 == 3):
            raise GuestTrap(Cause.ILLEGAL_INSTRUCTION)
        if num == Csr.SATP and priv == Privilege.S and self.mstatus & _M.TVM:
            raise GuestTrap(Cause.ILLEGAL_INSTRUCTION)

    def read(self, num: int, priv: int) -> int:
        """Read CSR ``num`` at privilege ``priv`` (raises illegal instruction if unknown)."""
        self.check(num, priv, False)
        v = self.values
        if num in v and num not in (Csr.MIP,):
            return v[num]
        if num == Csr.SSTATUS:
            return v[Csr.MSTATUS] & _SSTATUS_MASK
        if num == Csr.MIP:
            return self.mip()
        if num == Csr.SIP:
            return self.mip() & v[Csr.MIDELEG]
        if num == Csr.SIE:
            return v[Csr.MIE] & v[Csr.MIDELEG]
        if num == Csr.MISA:
            return MISA
        if num in (Csr.MCYCLE, Csr.MINSTRET, Csr.CYCLE, Csr.INSTRET):
            return self._instret()
        if num == Csr.TIME:
            return self._mtime()
        if num in _ZERO_RO or _hpm(num):
            return 0
        if _pmp(num):
            return v.get(num, 0)
        raise GuestTrap(Cause.ILLEGAL_INSTRUCTION)

    def write(self, num: int, value: int, priv: int) -> None:
        """Write CSR ``num`` at privilege ``priv`` (WARL fields keep their legal values)."""
        self.check(num, priv, True)
        v = self.values
        if num == Csr.MSTATUS:
            new = (v[num] & ~_MSTATUS_W) | (value & _MSTATUS_W)
            if (new >> _M.MPP_SHIFT) & 3 == 2:
                new &= ~_M.MPP
            self.mstatus = new
        elif num == Csr.SSTATUS:
            mask = _SSTATUS_MASK & ~(3 << 32)
            self.mstatus = (v[Csr.MSTATUS] & ~mask) | (value & mask)
        elif num == Csr.MEDELEG:
            v[num] = value & 0xB3FF
        elif num == Csr.MIDELEG:
            v[num] = value & _S_INTS
        elif num == Csr.MIE:
            v[num] = value & _MIE_W
        elif num == Csr.SIE:
            mask = v[Csr.MIDELEG]
            v[Csr.MIE] = (v[Csr.MIE] & ~mask) | (value & mask)
        elif num == Csr.MIP:
            v[num] = (v[num] & ~_MIP_W) | (value & _MIP_W)
        elif num == Csr.SIP:
            mask = v[Csr.MIDELEG] & 0x2
            v[Csr.MIP] = (v[Csr.MIP] & ~mask) | (value & mask)
        elif num == Csr.SATP:
            if value >> 60 in self._satp_modes:
                v[num] = value
                self.on_translation_change()
        elif num in (Csr.MEPC, Csr.SEPC):
            v[num] = value & ~1
        elif num in (Csr.MTVEC, Csr.STVEC):
            v[num] = value & ~2
        elif num in _PLAIN_RW or _pmp(num):
            v[num] = value
        elif num in (Csr.MCYCLE, Csr.MINSTRET) or _hpm(num):
            pass  # counters follow the retired-instruction count; hpm ones are zero
        elif num == Csr.MISA:
            pass  # WARL: the extensions are fixed, so every write is ignored (no trap)
        else:
            raise GuestTrap(Cause.ILLEGAL_INSTRUCTION)
