"""A tiny RV64 assembler: encode one instruction by mnemonic, for tests and benchmarks.

``encode("addi", rd=5, rs1=5, imm=1)`` returns the 32-bit word; :func:`assemble` packs a
list of words into little-endian bytes. Only the base encodings (no pseudo-instructions
except :func:`li`, no compressed forms) are supported; it is the inverse of
:func:`~.decoder.decode_word` and tested as such.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["assemble", "encode", "li"]

_R = {
    "add": (0, 0, 0x33), "sub": (0x20, 0, 0x33), "sll": (0, 1, 0x33), "slt": (0, 2, 0x33),
    "sltu": (0, 3, 0x33), "xor": (0, 4, 0x33), "srl": (0, 5, 0x33), "sra": (0x20, 5, 0x33),
    "or": (0, 6, 0x33), "and": (0, 7, 0x33), "mul": (1, 0, 0x33), "mulh": (1, 1, 0x33),
    "mulhsu": (1, 2, 0x33), "mulhu": (1, 3, 0x33), "div": (1, 4, 0x33), "divu": (1, 5, 0x33),
    "rem": (1, 6, 0x33), "remu": (1, 7, 0x33), "addw": (0, 0, 0x3B), "subw": (0x20, 0, 0x3B),
    "sllw": (0, 1, 0x3B), "srlw": (0, 5, 0x3B), "sraw": (0x20, 5, 0x3B), "mulw": (1, 0, 0x3B),
    "divw": (1, 4, 0x3B), "divuw": (1, 5, 0x3B), "remw": (1, 6, 0x3B), "remuw": (1, 7, 0x3B),
}  # fmt: skip
_I = {
    "addi": (0, 0x13), "slti": (2, 0x13), "sltiu": (3, 0x13), "xori": (4, 0x13),
    "ori": (6, 0x13), "andi": (7, 0x13), "addiw": (0, 0x1B), "jalr": (0, 0x67),
    "lb": (0, 3), "lh": (1, 3), "lw": (2, 3), "ld": (3, 3), "lbu": (4, 3), "lhu": (5, 3),
    "lwu": (6, 3),
}  # fmt: skip
_SHIFT = {
    "slli": (0, 1, 0x13, 63), "srli": (0, 5, 0x13, 63), "srai": (0x10, 5, 0x13, 63),
    "slliw": (0, 1, 0x1B, 31), "srliw": (0, 5, 0x1B, 31), "sraiw": (0x20, 5, 0x1B, 31),
}  # fmt: skip
_S = {"sb": 0, "sh": 1, "sw": 2, "sd": 3}
_B = {"beq": 0, "bne": 1, "blt": 4, "bge": 5, "bltu": 6, "bgeu": 7}
_FIXED = {
    "ecall": 0x73, "ebreak": 0x100073, "mret": 0x30200073, "sret": 0x10200073,
    "wfi": 0x10500073, "fence": 0x0FF0000F, "fence.i": 0x100F, "sfence.vma": 0x12000073,
}  # fmt: skip
_AMO = {
    "lr": 0x02, "sc": 0x03, "amoswap": 0x01, "amoadd": 0x00, "amoxor": 0x04, "amoand": 0x0C,
    "amoor": 0x08, "amomin": 0x10, "amomax": 0x14, "amominu": 0x18, "amomaxu": 0x1C,
}  # fmt: skip
_CSR = {"csrrw": 1, "csrrs": 2, "csrrc": 3, "csrrwi": 5, "csrrsi": 6, "csrrci": 7}


def encode(name: str, rd: int = 0, rs1: int = 0, rs2: int = 0, imm: int = 0) -> int:
    """The 32-bit encoding of one instruction (``imm`` is the CSR number for CSR ops)."""
    if name in _R:
        f7, f3, op = _R[name]
        return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
    if name in _I:
        f3, op = _I[name]
        _check(imm, 12, name)
        return (imm & 0xFFF) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
    if name in _SHIFT:
        top, f3, op, limit = _SHIFT[name]
        if not 0 <= imm <= limit:
            raise ValueError(f"{name}: shift {imm} out of range")
        return (
            (top << 25 if op == 0x1B else top << 26)
            | imm << 20
            | rs1 << 15
            | f3 << 12
            | rd << 7
            | op
        )
    if name in _S:
        _check(imm, 12, name)
        i = imm & 0xFFF
        return (i >> 5) << 25 | rs2 << 20 | rs1 << 15 | _S[name] << 12 | (i & 31) << 7 | 0x23
    if name in _B:
        _check(imm, 13, name)
        i = imm & 0x1FFF
        return (
            (i >> 12 & 1) << 31 | (i >> 5 & 0x3F) << 25 | rs2 << 20 | rs1 << 15 | _B[name] << 12
            | (i >> 1 & 0xF) << 8 | (i >> 11 & 1) << 7 | 0x63
        )  # fmt: skip
    if name in ("lui", "auipc"):
        return (imm & 0xFFFFF) << 12 | rd << 7 | (0x37 if name == "lui" else 0x17)
    if name == "jal":
        _check(imm, 21, name)
        i = imm & 0x1FFFFF
        return (
            (i >> 20 & 1) << 31 | (i >> 1 & 0x3FF) << 21 | (i >> 11 & 1) << 20
            | (i >> 12 & 0xFF) << 12 | rd << 7 | 0x6F
        )  # fmt: skip
    if name in _CSR:
        return (imm & 0xFFF) << 20 | rs1 << 15 | _CSR[name] << 12 | rd << 7 | 0x73
    if name in _FIXED:
        return _FIXED[name]
    base, _, width = name.partition(".")
    if base in _AMO and width in ("w", "d"):
        f3 = 2 if width == "w" else 3
        return _AMO[base] << 27 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x2F
    raise ValueError(f"unknown instruction {name!r}")


def _check(imm: int, bits: int, name: str) -> None:
    if not -(1 << (bits - 1)) <= imm < (1 << (bits - 1)):
        raise ValueError(f"{name}: immediate {imm} does not fit {bits} bits")


def li(rd: int, value: int) -> list[int]:
    """Load a 64-bit constant: ``lui``/``addiw`` for 32-bit values, else a shift sequence."""
    value &= (1 << 64) - 1
    signed = value - (1 << 64) if value >> 63 else value
    if -(1 << 31) <= signed < (1 << 31):
        lo = ((signed & 0xFFF) ^ 0x800) - 0x800
        hi = ((signed - lo) >> 12) & 0xFFFFF
        words = [encode("lui", rd, imm=hi)] if hi else []
        if lo or not hi:
            words.append(encode("addiw" if hi else "addi", rd, rd if hi else 0, imm=lo))
        return words
    lo = ((signed & 0xFFF) ^ 0x800) - 0x800
    upper = li(rd, (signed - lo) >> 12)
    return [
        *upper,
        encode("slli", rd, rd, imm=12),
        *([encode("addi", rd, rd, imm=lo)] if lo else []),
    ]


def assemble(words: Iterable[int]) -> bytes:
    return b"".join((w & 0xFFFFFFFF).to_bytes(4, "little") for w in words)
