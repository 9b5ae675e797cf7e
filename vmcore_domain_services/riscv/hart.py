"""One RV64 hart: integer registers, pc, privilege, CSRs, and privileged-spec trap entry.

:func:`enter_trap` delivers exceptions and interrupts (delegation through ``medeleg`` /
``mideleg``, ``xepc``/``xcause``/``xtval``, the ``xPIE``/``xPP`` stack, vectored ``xtvec``);
:func:`mret` and :func:`sret` return from them; :func:`pending_interrupt` picks the highest
priority enabled interrupt.
"""

from __future__ import annotations

from collections.abc import Callable

from vmcore_domain_services.mmu.access import Privilege

from .csr import Csr, CsrFile, Mstatus

__all__ = ["Hart", "enter_trap", "mret", "pending_interrupt", "sret"]

_INTERRUPT = 1 << 63
_PRIORITY = (11, 3, 7, 9, 1, 5)  # MEI, MSI, MTI, SEI, SSI, STI


class Hart:
    """Architectural state of one hart. ``x`` holds unsigned 64-bit values, ``x[0] == 0``."""

    def __init__(self, mtime: Callable[[], int], device_pending: Callable[[], int]) -> None:
        """``device_pending()`` returns the mip bits devices drive (MTIP, MSIP)."""
        self.x: list[int] = [0] * 32
        self.pc = 0
        self.priv: int = Privilege.M
        self.instret = 0
        self.reservation: int | None = None
        """The address LR reserved (None: no reservation)."""
        self.reservation_value = 0
        """The value LR loaded. As in QEMU, an SC succeeds when its address is the reserved
        one and memory (read at the SC's width) still holds this value; the spec leaves
        SCs of another width than their LR to the implementation."""
        self.csr = CsrFile(lambda: self.instret, mtime, device_pending)
        self.on_privilege_change: Callable[[], None] = lambda: None

    def set_priv(self, priv: int) -> None:
        if priv != self.priv:
            self.priv = priv
            self.on_privilege_change()


def enter_trap(hart: Hart, cause: int, tval: int, interrupt: bool = False) -> None:
    """Take a trap at ``hart.pc`` (the faulting or interrupted instruction)."""
    csr = hart.csr
    v = csr.values
    deleg = v[Csr.MIDELEG] if interrupt else v[Csr.MEDELEG]
    xcause = cause | (_INTERRUPT if interrupt else 0)
    status = csr.mstatus
    hart.reservation = None
    if hart.priv <= Privilege.S and (deleg >> cause) & 1:
        v[Csr.SEPC] = hart.pc
        v[Csr.SCAUSE] = xcause
        v[Csr.STVAL] = tval
        old = status
        status &= ~(Mstatus.SPIE | Mstatus.SPP | Mstatus.SIE)
        if old & Mstatus.SIE:
            status |= Mstatus.SPIE
        if hart.priv == Privilege.S:
            status |= Mstatus.SPP
        tvec = v[Csr.STVEC]
        target = Privilege.S
    else:
        v[Csr.MEPC] = hart.pc
        v[Csr.MCAUSE] = xcause
        v[Csr.MTVAL] = tval
        old = status
        status &= ~(Mstatus.MPIE | Mstatus.MPP | Mstatus.MIE)
        if old & Mstatus.MIE:
            status |= Mstatus.MPIE
        status |= hart.priv << Mstatus.MPP_SHIFT
        tvec = v[Csr.MTVEC]
        target = Privilege.M
    csr.mstatus = status
    base = tvec & ~3
    hart.pc = base + 4 * cause if (tvec & 1 and interrupt) else base
    hart.set_priv(target)


def mret(hart: Hart) -> None:
    csr = hart.csr
    status = csr.mstatus
    mpp = (status >> Mstatus.MPP_SHIFT) & 3
    status &= ~(Mstatus.MIE | Mstatus.MPP)
    if status & Mstatus.MPIE:
        status |= Mstatus.MIE
    status |= Mstatus.MPIE
    if mpp != Privilege.M:
        status &= ~Mstatus.MPRV
    csr.mstatus = status
    hart.pc = csr.values[Csr.MEPC]
    hart.reservation = None
    hart.set_priv(mpp)


def sret(hart: Hart) -> None:
    csr = hart.csr
    status = csr.mstatus
    spp = Privilege.S if status & Mstatus.SPP else Privilege.U
    status &= ~(Mstatus.SIE | Mstatus.SPP | Mstatus.MPRV)
    if status & Mstatus.SPIE:
        status |= Mstatus.SIE
    status |= Mstatus.SPIE
    csr.mstatus = status
    hart.pc = csr.values[Csr.SEPC]
    hart.reservation = None
    hart.set_priv(spp)


def pending_interrupt(hart: Hart) -> int | None:
    """The cause number of the interrupt to take now, or ``None``."""
    csr = hart.csr
    pending = csr.mip() & csr.values[Csr.MIE]
    if not pending:
        return None
    status = csr.mstatus
    mideleg = csr.values[Csr.MIDELEG]
    m_on = hart.priv < Privilege.M or bool(status & Mstatus.MIE)
    s_on = hart.priv < Privilege.S or (hart.priv == Privilege.S and bool(status & Mstatus.SIE))
    for cause in _PRIORITY:
        if pending >> cause & 1:
            if (mideleg >> cause) & 1:
                if s_on:
                    return cause
            elif m_on:
                return cause
    return None
