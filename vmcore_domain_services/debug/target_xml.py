"""The target description gdb reads with ``qXfer:features:read`` (RV64, integer registers and
pc, as in gdb's own ``riscv-64bit-cpu.xml``), so that gdb needs no ``set architecture``."""

from __future__ import annotations

__all__ = ["TARGET_XML"]

_ABI = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2",
        "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10",
        "s11", "t3", "t4", "t5", "t6"]
_TYPES = {"ra": "code_ptr", "sp": "data_ptr", "gp": "data_ptr", "tp": "data_ptr"}


def _register(number: int, name: str) -> str:
    kind = _TYPES.get(name, "int")
    return f'<reg name="{name}" bitsize="64" type="{kind}" regnum="{number}"/>'


TARGET_XML = (
    '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n'
    '<target version="1.0"><architecture>riscv:rv64</architecture>'
    '<feature name="org.gnu.gdb.riscv.cpu">'
    + "".join(_register(n, name) for n, name in enumerate(_ABI))
    + _register(32, "pc").replace('"int"', '"code_ptr"')
    + "</feature></target>"
).encode()
