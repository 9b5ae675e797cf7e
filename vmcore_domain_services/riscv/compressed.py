"""RV64C: expand one 16-bit compressed parcel into its 32-bit equivalent :class:`Insn`.

Floating-point parcels (``c.fld`` and friends) and reserved encodings expand to ``illegal``.
"""

from __future__ import annotations

from .decoder import ILLEGAL, Insn, sext

__all__ = ["expand"]


def _b(h: int, hi: int, lo: int) -> int:
    return (h >> lo) & ((1 << (hi - lo + 1)) - 1)


def _c(
    name: str, alias: str, h: int, rd: int = 0, rs1: int = 0, rs2: int = 0, imm: int = 0
) -> Insn:
    return Insn(name, rd, rs1, rs2, imm, h, 2, alias)


def _q0(h: int, f3: int) -> Insn:
    rdp = 8 + _b(h, 4, 2)
    rs1p = 8 + _b(h, 9, 7)
    if f3 == 0:
        imm = _b(h, 12, 11) << 4 | _b(h, 10, 7) << 6 | _b(h, 6, 6) << 2 | _b(h, 5, 5) << 3
        if imm == 0:
            return Insn(ILLEGAL, raw=h, length=2)
        return _c("addi", "c.addi4spn", h, rdp, 2, 0, imm)
    wimm = _b(h, 12, 10) << 3 | _b(h, 6, 6) << 2 | _b(h, 5, 5) << 6
    dimm = _b(h, 12, 10) << 3 | _b(h, 6, 5) << 6
    if f3 == 2:
        return _c("lw", "c.lw", h, rdp, rs1p, 0, wimm)
    if f3 == 3:
        return _c("ld", "c.ld", h, rdp, rs1p, 0, dimm)
    if f3 == 6:
        return _c("sw", "c.sw", h, 0, rs1p, rdp, wimm)
    if f3 == 7:
        return _c("sd", "c.sd", h, 0, rs1p, rdp, dimm)
    return Insn(ILLEGAL, raw=h, length=2)


def _q1(h: int, f3: int) -> Insn:
    rd = _b(h, 11, 7)
    imm6 = sext(_b(h, 12, 12) << 5 | _b(h, 6, 2), 6)
    if f3 == 0:
        return _c("addi", "c.nop" if rd == 0 else "c.addi", h, rd, rd, 0, imm6)
    if f3 == 1:
        return _c("addiw", "c.addiw", h, rd, rd, 0, imm6) if rd else Insn(ILLEGAL, raw=h, length=2)
    if f3 == 2:
        return _c("addi", "c.li", h, rd, 0, 0, imm6)
    if f3 == 3:
        if rd == 2:
            imm = sext(
                _b(h, 12, 12) << 9
                | _b(h, 6, 6) << 4
                | _b(h, 5, 5) << 6
                | _b(h, 4, 3) << 7
                | _b(h, 2, 2) << 5,
                10,
            )
            return (
                _c("addi", "c.addi16sp", h, 2, 2, 0, imm) if imm else Insn(ILLEGAL, raw=h, length=2)
            )
        if imm6 == 0:
            return Insn(ILLEGAL, raw=h, length=2)
        return _c("lui", "c.lui", h, rd, 0, 0, imm6 << 12)
    if f3 == 4:
        rdp = 8 + _b(h, 9, 7)
        rs2p = 8 + _b(h, 4, 2)
        f2 = _b(h, 11, 10)
        shamt = _b(h, 12, 12) << 5 | _b(h, 6, 2)
        if f2 == 0:
            return _c("srli", "c.srli", h, rdp, rdp, 0, shamt)
        if f2 == 1:
            return _c("srai", "c.srai", h, rdp, rdp, 0, shamt)
        if f2 == 2:
            return _c("andi", "c.andi", h, rdp, rdp, 0, imm6)
        f = _b(h, 6, 5)
        if _b(h, 12, 12) == 0:
            name = ("sub", "xor", "or", "and")[f]
        elif f < 2:
            name = ("subw", "addw")[f]
        else:
            return Insn(ILLEGAL, raw=h, length=2)
        return _c(name, "c." + name, h, rdp, rdp, rs2p)
    if f3 == 5:
        off = sext(
            _b(h, 12, 12) << 11
            | _b(h, 11, 11) << 4
            | _b(h, 10, 9) << 8
            | _b(h, 8, 8) << 10
            | _b(h, 7, 7) << 6
            | _b(h, 6, 6) << 7
            | _b(h, 5, 3) << 1
            | _b(h, 2, 2) << 5,
            12,
        )
        return _c("jal", "c.j", h, 0, 0, 0, off)
    off = sext(
        _b(h, 12, 12) << 8
        | _b(h, 11, 10) << 3
        | _b(h, 6, 5) << 6
        | _b(h, 4, 3) << 1
        | _b(h, 2, 2) << 5,
        9,
    )
    rs1p = 8 + _b(h, 9, 7)
    return _c("beq" if f3 == 6 else "bne", "c.beqz" if f3 == 6 else "c.bnez", h, 0, rs1p, 0, off)


def _q2(h: int, f3: int) -> Insn:
    rd = _b(h, 11, 7)
    rs2 = _b(h, 6, 2)
    if f3 == 0:
        return _c("slli", "c.slli", h, rd, rd, 0, _b(h, 12, 12) << 5 | rs2)
    if f3 == 2 and rd:
        return _c(
            "lw", "c.lwsp", h, rd, 2, 0, _b(h, 12, 12) << 5 | _b(h, 6, 4) << 2 | _b(h, 3, 2) << 6
        )
    if f3 == 3 and rd:
        return _c(
            "ld", "c.ldsp", h, rd, 2, 0, _b(h, 12, 12) << 5 | _b(h, 6, 5) << 3 | _b(h, 4, 2) << 6
        )
    if f3 == 4:
        if _b(h, 12, 12) == 0:
            if rs2 == 0:
                return _c("jalr", "c.jr", h, 0, rd, 0, 0) if rd else Insn(ILLEGAL, raw=h, length=2)
            return _c("add", "c.mv", h, rd, 0, rs2)
        if rd == 0 and rs2 == 0:
            return _c("ebreak", "c.ebreak", h)
        if rs2 == 0:
            return _c("jalr", "c.jalr", h, 1, rd, 0, 0)
        return _c("add", "c.add", h, rd, rd, rs2)
    if f3 == 6:
        return _c("sw", "c.swsp", h, 0, 2, rs2, _b(h, 12, 9) << 2 | _b(h, 8, 7) << 6)
    if f3 == 7:
        return _c("sd", "c.sdsp", h, 0, 2, rs2, _b(h, 12, 10) << 3 | _b(h, 9, 7) << 6)
    return Insn(ILLEGAL, raw=h, length=2)


def expand(h: int) -> Insn:
    """Expand the compressed parcel ``h`` (low two bits not ``0b11``)."""
    if h == 0:
        return Insn(ILLEGAL, raw=0, length=2)
    f3 = h >> 13
    quadrant = h & 3
    if quadrant == 0:
        return _q0(h, f3)
    if quadrant == 1:
        return _q1(h, f3)
    return _q2(h, f3)
