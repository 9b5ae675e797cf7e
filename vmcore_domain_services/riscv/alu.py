"""64-bit arithmetic helpers shared by the interpreter and the generated block code.

Guest registers hold unsigned 64-bit values (``0 <= v < 2**64``); these helpers implement
the RISC-V M extension's corner cases (division by zero, signed overflow) exactly.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "BINARY",
    "M32",
    "M64",
    "SIGN64",
    "div",
    "divu",
    "divuw",
    "divw",
    "mulh",
    "mulhsu",
    "rem",
    "remu",
    "remuw",
    "remw",
    "s64",
    "sx32",
]

M64 = 0xFFFF_FFFF_FFFF_FFFF
M32 = 0xFFFF_FFFF
SIGN64 = 1 << 63


def s64(v: int) -> int:
    """The signed value of a 64-bit register."""
    return (v ^ SIGN64) - SIGN64


def sx32(v: int) -> int:
    """Sign-extend the low 32 bits of ``v`` into a 64-bit register value."""
    return (((v & M32) ^ 0x8000_0000) - 0x8000_0000) & M64


def mulh(a: int, b: int) -> int:
    return ((s64(a) * s64(b)) >> 64) & M64


def mulhsu(a: int, b: int) -> int:
    return ((s64(a) * b) >> 64) & M64


def _tdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def div(a: int, b: int) -> int:
    if b == 0:
        return M64
    return _tdiv(s64(a), s64(b)) & M64


def divu(a: int, b: int) -> int:
    return M64 if b == 0 else a // b


def rem(a: int, b: int) -> int:
    if b == 0:
        return a
    sa, sb = s64(a), s64(b)
    return (sa - sb * _tdiv(sa, sb)) & M64


def remu(a: int, b: int) -> int:
    return a if b == 0 else a % b


def _s32(v: int) -> int:
    return ((v & M32) ^ 0x8000_0000) - 0x8000_0000


def divw(a: int, b: int) -> int:
    sa, sb = _s32(a), _s32(b)
    if sb == 0:
        return M64
    return sx32(_tdiv(sa, sb))


def divuw(a: int, b: int) -> int:
    ua, ub = a & M32, b & M32
    return M64 if ub == 0 else sx32(ua // ub)


def remw(a: int, b: int) -> int:
    sa, sb = _s32(a), _s32(b)
    if sb == 0:
        return sx32(sa)
    return sx32(sa - sb * _tdiv(sa, sb))


def remuw(a: int, b: int) -> int:
    ua, ub = a & M32, b & M32
    return sx32(ua) if ub == 0 else sx32(ua % ub)


BINARY: dict[str, Callable[[int, int], int]] = {
    "add": lambda a, b: (a + b) & M64,
    "sub": lambda a, b: (a - b) & M64,
    "sll": lambda a, b: (a << (b & 63)) & M64,
    "slt": lambda a, b: int((a ^ SIGN64) < (b ^ SIGN64)),
    "sltu": lambda a, b: int(a < b),
    "xor": lambda a, b: a ^ b,
    "srl": lambda a, b: a >> (b & 63),
    "sra": lambda a, b: (s64(a) >> (b & 63)) & M64,
    "or": lambda a, b: a | b,
    "and": lambda a, b: a & b,
    "mul": lambda a, b: (a * b) & M64,
    "mulh": mulh,
    "mulhsu": mulhsu,
    "mulhu": lambda a, b: (a * b) >> 64,
    "div": div,
    "divu": divu,
    "rem": rem,
    "remu": remu,
    "addw": lambda a, b: sx32(a + b),
    "subw": lambda a, b: sx32(a - b),
    "sllw": lambda a, b: sx32(a << (b & 31)),
    "srlw": lambda a, b: sx32((a & M32) >> (b & 31)),
    "sraw": lambda a, b: sx32(s64(sx32(a)) >> (b & 31)),
    "mulw": lambda a, b: sx32(a * b),
    "divw": divw,
    "divuw": divuw,
    "remw": remw,
    "remuw": remuw,
}
"""Every binary ALU op of RV64IM by IR opcode (``addi`` is ``add`` with a constant)."""
