"""RV64IMA + Zicsr + Zifencei + privileged decoder: one 32-bit word to one :class:`Insn`.

Compressed (RVC) parcels are expanded by :mod:`.compressed` into the same :class:`Insn`
with ``length == 2``. Unknown encodings decode to the instruction named ``"illegal"``, which
both execution tiers turn into an illegal-instruction trap: decoding never raises.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["ILLEGAL", "Insn", "decode", "decode_word", "sext"]


class Insn:
    """One decoded instruction.

    ``imm`` holds the sign-extended immediate (the shifted value for ``lui``/``auipc``, the
    shift amount for shifts, the CSR number for CSR instructions); ``rs1`` holds the 5-bit
    zero-extended immediate of ``csrr*i``. ``alias`` is the compressed mnemonic (``c.li``).
    """

    __slots__ = ("alias", "imm", "length", "name", "raw", "rd", "rs1", "rs2")

    def __init__(
        self,
        name: str,
        rd: int = 0,
        rs1: int = 0,
        rs2: int = 0,
        imm: int = 0,
        raw: int = 0,
        length: int = 4,
        alias: str = "",
    ) -> None:
        self.name = name
        self.rd = rd
        self.rs1 = rs1
        self.rs2 = rs2
        self.imm = imm
        self.raw = raw
        self.length = length
        self.alias = alias

    def __repr__(self) -> str:
        return (
            f"Insn({self.alias or self.name} rd={self.rd} rs1={self.rs1} rs2={self.rs2} "
            f"imm={self.imm:#x} raw={self.raw:#x})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Insn):
            return NotImplemented
        return (self.name, self.rd, self.rs1, self.rs2, self.imm) == (
            other.name,
            other.rd,
            other.rs1,
            other.rs2,
            other.imm,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.rd, self.rs1, self.rs2, self.imm))


def sext(value: int, bits: int) -> int:
    """Sign-extend the low ``bits`` of ``value`` to a Python int."""
    sign = 1 << (bits - 1)
    return ((value & ((1 << bits) - 1)) ^ sign) - sign


ILLEGAL = "illegal"

_BRANCH = {0: "beq", 1: "bne", 4: "blt", 5: "bge", 6: "bltu", 7: "bgeu"}
_LOAD = {0: "lb", 1: "lh", 2: "lw", 3: "ld", 4: "lbu", 5: "lhu", 6: "lwu"}
_STORE = {0: "sb", 1: "sh", 2: "sw", 3: "sd"}
_OPIMM = {0: "addi", 2: "slti", 3: "sltiu", 4: "xori", 6: "ori", 7: "andi"}
_OP = {
    (0, 0): "add", (0, 1): "sll", (0, 2): "slt", (0, 3): "sltu", (0, 4): "xor",
    (0, 5): "srl", (0, 6): "or", (0, 7): "and", (0x20, 0): "sub", (0x20, 5): "sra",
    (1, 0): "mul", (1, 1): "mulh", (1, 2): "mulhsu", (1, 3): "mulhu",
    (1, 4): "div", (1, 5): "divu", (1, 6): "rem", (1, 7): "remu",
}  # fmt: skip
_OP32 = {
    (0, 0): "addw", (0, 1): "sllw", (0, 5): "srlw", (0x20, 0): "subw", (0x20, 5): "sraw",
    (1, 0): "mulw", (1, 4): "divw", (1, 5): "divuw", (1, 6): "remw", (1, 7): "remuw",
}  # fmt: skip
_CSR = {1: "csrrw", 2: "csrrs", 3: "csrrc", 5: "csrrwi", 6: "csrrsi", 7: "csrrci"}
_AMO = {
    0x00: "amoadd", 0x01: "amoswap", 0x02: "lr", 0x03: "sc", 0x04: "amoxor", 0x08: "amoor",
    0x0C: "amoand", 0x10: "amomin", 0x14: "amomax", 0x18: "amominu", 0x1C: "amomaxu",
}  # fmt: skip
_SYSTEM = {
    0x00000073: "ecall", 0x00100073: "ebreak", 0x10200073: "sret",
    0x30200073: "mret", 0x10500073: "wfi",
}  # fmt: skip


def decode_word(w: int) -> Insn:
    """Decode one 32-bit instruction word (uncached)."""
    op = w & 0x7F
    rd = (w >> 7) & 31
    f3 = (w >> 12) & 7
    rs1 = (w >> 15) & 31
    rs2 = (w >> 20) & 31
    f7 = w >> 25
    name: str | None = None
    imm = 0
    if op == 0x13:
        imm = sext(w >> 20, 12)
        if f3 == 1:
            name, imm = ("slli", (w >> 20) & 63) if (w >> 26) == 0 else (None, 0)
        elif f3 == 5:
            top = w >> 26
            name = "srli" if top == 0 else "srai" if top == 0x10 else None
            imm = (w >> 20) & 63
        else:
            name = _OPIMM[f3]
    elif op == 0x33:
        name = _OP.get((f7, f3))
    elif op == 0x1B:
        imm = sext(w >> 20, 12)
        if f3 == 0:
            name = "addiw"
        elif f3 == 1 and f7 == 0:
            name, imm = "slliw", rs2
        elif f3 == 5 and f7 in (0, 0x20):
            name, imm = ("srliw" if f7 == 0 else "sraiw"), rs2
    elif op == 0x3B:
        name = _OP32.get((f7, f3))
    elif op == 0x03:
        name, imm = _LOAD.get(f3), sext(w >> 20, 12)
    elif op == 0x23:
        name, imm = _STORE.get(f3), sext(((w >> 25) << 5) | rd, 12)
        rd = 0
    elif op == 0x63:
        name = _BRANCH.get(f3)
        imm = sext(
            ((w >> 31) & 1) << 12
            | ((w >> 7) & 1) << 11
            | ((w >> 25) & 0x3F) << 5
            | ((w >> 8) & 0xF) << 1,
            13,
        )
        rd = 0
    elif op == 0x37 or op == 0x17:
        name, imm = ("lui" if op == 0x37 else "auipc"), sext(w & 0xFFFFF000, 32)
    elif op == 0x6F:
        name = "jal"
        imm = sext(
            ((w >> 31) & 1) << 20
            | ((w >> 12) & 0xFF) << 12
            | ((w >> 20) & 1) << 11
            | ((w >> 21) & 0x3FF) << 1,
            21,
        )
    elif op == 0x67:
        name, imm = ("jalr" if f3 == 0 else None), sext(w >> 20, 12)
    elif op == 0x0F:
        name = "fence" if f3 == 0 else "fence.i" if f3 == 1 else None
    elif op == 0x73:
        if f3 == 0:
            name = _SYSTEM.get(w)
            if name is None and f7 == 0x09 and rd == 0:
                name = "sfence.vma"
        else:
            name, imm = _CSR.get(f3), w >> 20
    elif op == 0x2F and f3 in (2, 3):
        base = _AMO.get(w >> 27)
        if base is not None and not (base == "lr" and rs2 != 0):
            name = f"{base}.{'w' if f3 == 2 else 'd'}"
    if name is None:
        return Insn(ILLEGAL, raw=w)
    return Insn(name, rd, rs1, rs2, imm, w)


@lru_cache(maxsize=65536)
def decode(word: int) -> Insn:
    """Decode a 16-bit compressed parcel or a 32-bit word, cached by encoding.

    Words whose two low bits are not ``0b11`` are compressed; only their low 16 bits count.
    """
    if word & 3 != 3:
        from .compressed import expand

        return expand(word & 0xFFFF)
    return decode_word(word & 0xFFFFFFFF)
