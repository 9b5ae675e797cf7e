"""Access types, privilege contexts and the A/D-bit policy a walk runs under."""

from __future__ import annotations

from enum import Enum, IntEnum

from attrs import field, frozen


class Access(IntEnum):
    """What the access does; ``1 << access`` is its bit in a rights mask (X, R, W)."""

    FETCH = 0
    LOAD = 1
    STORE = 2


RIGHT_X = 1 << Access.FETCH
RIGHT_R = 1 << Access.LOAD
RIGHT_W = 1 << Access.STORE
ALL_RIGHTS = RIGHT_X | RIGHT_R | RIGHT_W


class AdPolicy(Enum):
    """What a RISC-V walk does when a leaf's A bit (or D bit, on a store) is clear."""

    HARDWARE = "hardware"
    """Set it in memory (Svadu; what QEMU 5.0 does). x86-64 always behaves this way."""
    FAULT = "fault"
    """Raise a page fault so software sets it (Svade)."""


class Privilege(IntEnum):
    """A RISC-V privilege level, as ``mstatus.MPP`` and the hart hold it (the one privilege
    enum: the MMU, the CSR file and the executor all use it)."""

    USER = 0
    SUPERVISOR = 1
    MACHINE = 3
    U = 0
    """Short names, as the privileged spec writes them."""
    S = 1
    M = 3


@frozen
class RiscvContext:
    """The effective privilege of a RISC-V access and the mstatus bits that shape it.

    ``privilege`` is the effective one (the caller applies mstatus.MPRV/MPP for loads and
    stores). Machine mode is translated as Bare (identity). ``qemu_5_0`` reproduces the
    QEMU 5.0 walker: PTE bits 63:54 are not checked and are folded into the PPN, and a PTE
    outside memory reads as zero (a page fault, where the spec raises an access fault).
    """

    privilege: Privilege = Privilege.SUPERVISOR
    sum: bool = False
    mxr: bool = False
    ad_policy: AdPolicy = AdPolicy.FAULT
    qemu_5_0: bool = False
    rights_key: tuple[int, bool, bool] = field(init=False, eq=False, repr=False)

    @rights_key.default
    def _rights_key(self) -> tuple[int, bool, bool]:
        return (int(self.privilege), self.sum, self.mxr)

    rights_table: tuple[int, ...] = field(init=False, eq=False, repr=False)
    """``rights_table[pte & 0xFF]``: the rights a leaf grants under this context."""

    @rights_table.default
    def _rights_table(self) -> tuple[int, ...]:
        from vmcore_domain_services.mmu.permissions import riscv_rights_table

        return riscv_rights_table(self.rights_key)


@frozen
class X86Context:
    """CPL and the control bits an x86-64 walk depends on (CR0.WP, CR4.SMEP/SMAP,
    EFER.NXE, EFLAGS.AC). ``max_phys_bits`` is MAXPHYADDR (40 in QEMU's TCG model);
    ``qemu_5_0`` reproduces QEMU 5.0's early A-bit update on 1 GiB leaves. ``pge`` is
    CR4.PGE: the walk ignores it, the MMU service's TLB honours it (without it no entry is
    global, and changing it flushes the TLB)."""

    cpl: int = 0
    wp: bool = True
    smep: bool = False
    smap: bool = False
    nxe: bool = True
    ac: bool = False
    max_phys_bits: int = 40
    qemu_5_0: bool = False
    pge: bool = True
    rights_key: tuple[bool, bool, bool, bool] = field(init=False, eq=False, repr=False)

    @rights_key.default
    def _rights_key(self) -> tuple[bool, bool, bool, bool]:
        return (self.cpl == 3, self.wp, self.smep, self.smap and not self.ac)

    rights_table: tuple[int, ...] = field(init=False, eq=False, repr=False)
    """``rights_table[key]``: the rights an accumulated permission key grants here."""

    @rights_table.default
    def _rights_table(self) -> tuple[int, ...]:
        from vmcore_domain_services.mmu.permissions import x86_rights_table

        return x86_rights_table(self.rights_key)
