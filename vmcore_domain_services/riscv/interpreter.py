"""The interpreter tier: fetch, decode (cached by encoding) and execute one instruction.

Every instruction either completes (registers, memory and ``pc`` updated, ``instret``
counted by the caller) or raises :class:`~.errors.GuestTrap` with no architectural effect,
so faults are precise. System instructions call back into the machine through
:class:`SystemHooks` (``fence.i`` and ``sfence.vma`` drop translated code; ``wfi``).
"""

from __future__ import annotations

from collections.abc import Callable

from vmcore_domain_services.mmu.access import Privilege

from . import alu
from .csr import Mstatus
from .decoder import Insn, decode
from .errors import Cause, GuestTrap, Resync
from .hart import Hart, mret, sret
from .port import MemoryPort

__all__ = ["CONTROL_FLOW", "Interpreter", "SystemHooks"]

_M = alu.M64
_S = alu.SIGN64
Handler = Callable[[Insn, int], int]
"""``handler(insn, pc) -> next pc``."""

_RR = alu.BINARY
_RI = {
    "addi": "add", "slti": "slt", "sltiu": "sltu", "xori": "xor", "ori": "or", "andi": "and",
    "slli": "sll", "srli": "srl", "srai": "sra", "addiw": "addw", "slliw": "sllw",
    "srliw": "srlw", "sraiw": "sraw",
}  # fmt: skip
_BR: dict[str, Callable[[int, int], bool]] = {
    "beq": lambda a, b: a == b,
    "bne": lambda a, b: a != b,
    "blt": lambda a, b: (a ^ _S) < (b ^ _S),
    "bge": lambda a, b: (a ^ _S) >= (b ^ _S),
    "bltu": lambda a, b: a < b,
    "bgeu": lambda a, b: a >= b,
}
_AMO: dict[str, Callable[[int, int], int]] = {
    "amoswap": lambda a, b: b,
    "amoadd": lambda a, b: a + b,
    "amoxor": lambda a, b: a ^ b,
    "amoand": lambda a, b: a & b,
    "amoor": lambda a, b: a | b,
    "amomin": lambda a, b: a if (a ^ _S) < (b ^ _S) else b,
    "amomax": lambda a, b: a if (a ^ _S) > (b ^ _S) else b,
    "amominu": min,
    "amomaxu": max,
}
CONTROL_FLOW = frozenset(
    {"jal", "jalr", *_BR, "ecall", "ebreak", "mret", "sret", "wfi", "fence.i", "sfence.vma",
     "illegal"}
    | {n for n in ("csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci")}
)  # fmt: skip
"""Instructions that end a basic block (the interpreter tier stops after them)."""


class SystemHooks:
    """What system instructions need from the machine; the defaults do nothing."""

    def fence_i(self) -> None:
        """Drop translated code (``fence.i``)."""

    def sfence_vma(self, va: int | None, asid: int | None) -> None:
        """Drop cached translations and translated code (``sfence.vma``; None is x0)."""

    def csr_written(self) -> None:
        """A CSR was written (interrupt enables may have changed)."""


class Interpreter:
    """Executes instructions of ``hart`` through ``port`` one at a time."""

    def __init__(self, hart: Hart, port: MemoryPort, hooks: SystemHooks | None = None) -> None:
        self.hart = hart
        self.port = port
        self.hooks = hooks or SystemHooks()
        self.handlers: dict[str, Handler] = self._handlers()

    def step(self) -> Insn:
        """Execute the instruction at ``hart.pc``; returns it. Raises GuestTrap on a fault."""
        hart = self.hart
        pc = hart.pc
        insn = decode(self.port.fetch(pc))
        try:
            hart.pc = self.handlers[insn.name](insn, pc)
        except Resync:
            hart.pc = pc + insn.length
            raise
        finally:
            hart.x[0] = 0
        return insn

    def run_block(self, budget: int) -> int:
        """Execute up to ``budget`` instructions, stopping after a control transfer.

        Each retired instruction is counted in ``hart.instret`` as it completes, so devices
        that read time see the exact count. Returns the number retired; GuestTrap and Resync
        propagate with ``retired == 0`` (already counted) and ``pc``/``next_pc`` set.
        """
        hart = self.hart
        done = 0
        try:
            while done < budget:
                insn = self.step()
                done += 1
                hart.instret += 1
                if insn.name in CONTROL_FLOW:
                    break
        except GuestTrap as trap:
            trap.retired = 0
            trap.pc = hart.pc
            raise
        except Resync as resync:
            hart.instret += 1
            resync.retired = 0
            resync.next_pc = hart.pc
            raise
        return done

    # -- semantics -------------------------------------------------------------------------
    def _handlers(self) -> dict[str, Handler]:
        hart, port, x = self.hart, self.port, self.hart.x
        table: dict[str, Handler] = {}

        def rr(f: Callable[[int, int], int]) -> Handler:
            def h(i: Insn, pc: int) -> int:
                x[i.rd] = f(x[i.rs1], x[i.rs2])
                return pc + i.length

            return h

        def ri(f: Callable[[int, int], int]) -> Handler:
            def h(i: Insn, pc: int) -> int:
                x[i.rd] = f(x[i.rs1], i.imm & _M)
                return pc + i.length

            return h

        def br(f: Callable[[int, int], bool]) -> Handler:
            def h(i: Insn, pc: int) -> int:
                return (pc + i.imm) & _M if f(x[i.rs1], x[i.rs2]) else pc + i.length

            return h

        def load(f: Callable[[int], int]) -> Handler:
            def h(i: Insn, pc: int) -> int:
                x[i.rd] = f((x[i.rs1] + i.imm) & _M)
                return pc + i.length

            return h

        def store(f: Callable[[int, int], None]) -> Handler:
            def h(i: Insn, pc: int) -> int:
                f((x[i.rs1] + i.imm) & _M, x[i.rs2])
                return pc + i.length

            return h

        for name, f in _RR.items():
            table[name] = rr(f)
        for name, base in _RI.items():
            table[name] = ri(_RR[base])
        for name, g in _BR.items():
            table[name] = br(g)
        for name, lf in port.loads.items():
            table[name] = load(lf)
        for name, sf in port.stores.items():
            table[name] = store(sf)

        def lui(i: Insn, pc: int) -> int:
            x[i.rd] = i.imm & _M
            return pc + i.length

        def auipc(i: Insn, pc: int) -> int:
            x[i.rd] = (pc + i.imm) & _M
            return pc + i.length

        def jal(i: Insn, pc: int) -> int:
            x[i.rd] = pc + i.length
            return (pc + i.imm) & _M

        def jalr(i: Insn, pc: int) -> int:
            target = (x[i.rs1] + i.imm) & _M & ~1
            x[i.rd] = pc + i.length
            return target

        def nop(i: Insn, pc: int) -> int:
            return pc + i.length

        def illegal(i: Insn, pc: int) -> int:
            raise GuestTrap(Cause.ILLEGAL_INSTRUCTION, i.raw)

        def ecall(i: Insn, pc: int) -> int:
            raise GuestTrap(Cause.ECALL_U + hart.priv)

        def ebreak(i: Insn, pc: int) -> int:
            raise GuestTrap(Cause.BREAKPOINT, pc)

        table.update(lui=lui, auipc=auipc, jal=jal, jalr=jalr, fence=nop, illegal=illegal,
                     ecall=ecall, ebreak=ebreak)  # fmt: skip
        table.update(self._system_handlers())
        table.update(self._atomic_handlers())
        return table

    def _system_handlers(self) -> dict[str, Handler]:
        hart, hooks, x = self.hart, self.hooks, self.hart.x
        csr = hart.csr

        def csrop(kind: str, imm: bool) -> Handler:
            def h(i: Insn, pc: int) -> int:
                src = i.rs1 if imm else x[i.rs1]
                writes = kind == "w" or i.rs1 != 0
                if kind == "w" and i.rd == 0:
                    csr.check(i.imm, hart.priv, True)
                    old = 0
                else:
                    old = csr.read(i.imm, hart.priv)
                if writes:
                    new = src if kind == "w" else old | src if kind == "s" else old & ~src
                    csr.write(i.imm, new & _M, hart.priv)
                    hooks.csr_written()
                x[i.rd] = old
                return pc + i.length

            return h

        def do_mret(i: Insn, pc: int) -> int:
            if hart.priv < Privilege.M:
                raise GuestTrap(Cause.ILLEGAL_INSTRUCTION, i.raw)
            mret(hart)
            hooks.csr_written()
            return hart.pc

        def do_sret(i: Insn, pc: int) -> int:
            if hart.priv < Privilege.S or (hart.priv == Privilege.S and csr.mstatus & Mstatus.TSR):
                raise GuestTrap(Cause.ILLEGAL_INSTRUCTION, i.raw)
            sret(hart)
            hooks.csr_written()
            return hart.pc

        def wfi(i: Insn, pc: int) -> int:
            if hart.priv < Privilege.M and csr.mstatus & Mstatus.TW:
                raise GuestTrap(Cause.ILLEGAL_INSTRUCTION, i.raw)
            return pc + i.length

        def sfence(i: Insn, pc: int) -> int:
            if hart.priv == Privilege.U or (hart.priv == Privilege.S and csr.mstatus & Mstatus.TVM):
                raise GuestTrap(Cause.ILLEGAL_INSTRUCTION, i.raw)
            hooks.sfence_vma(x[i.rs1] if i.rs1 else None, x[i.rs2] & 0xFFFF if i.rs2 else None)
            return pc + i.length

        def fence_i(i: Insn, pc: int) -> int:
            hooks.fence_i()
            return pc + i.length

        table: dict[str, Handler] = {
            "mret": do_mret, "sret": do_sret, "wfi": wfi, "sfence.vma": sfence,
            "fence.i": fence_i,
        }  # fmt: skip
        for kind in "wsc":
            table[f"csrr{kind}"] = csrop(kind, False)
            table[f"csrr{kind}i"] = csrop(kind, True)
        return table

    def _atomic_handlers(self) -> dict[str, Handler]:
        hart, port, x = self.hart, self.port, self.hart.x
        table: dict[str, Handler] = {}

        def check_aligned(addr: int, size: int, cause: int) -> None:
            if addr & (size - 1):
                raise GuestTrap(cause, addr)

        def amo(f: Callable[[int, int], int], size: int) -> Handler:
            ld, st = (port.ld, port.sd) if size == 8 else (port.lw, port.sw)

            def h(i: Insn, pc: int) -> int:
                addr = x[i.rs1]
                check_aligned(addr, size, Cause.STORE_MISALIGNED)
                port.probe_store(addr)
                old = ld(addr)
                src = x[i.rs2] if size == 8 else alu.sx32(x[i.rs2])
                st(addr, f(old, src) & _M)
                x[i.rd] = old
                return pc + i.length

            return h

        def lr(size: int) -> Handler:
            ld = port.ld if size == 8 else port.lw

            def h(i: Insn, pc: int) -> int:
                addr = x[i.rs1]
                check_aligned(addr, size, Cause.LOAD_MISALIGNED)
                x[i.rd] = ld(addr)
                hart.reservation = addr
                hart.reservation_value = x[i.rd]
                return pc + i.length

            return h

        def sc(size: int) -> Handler:
            """SC as QEMU 5.0 performs it: with the reservation address matching, a
            compare-and-swap at the SC's width against the value LR loaded; the result is
            0 only if memory held exactly that value (so an SC.W after an LR.D may store
            and still report failure; the spec leaves mixed widths unspecified)."""
            st = port.sd if size == 8 else port.sw
            ld = port.ld if size == 8 else port.lw

            def h(i: Insn, pc: int) -> int:
                addr = x[i.rs1]
                check_aligned(addr, size, Cause.STORE_MISALIGNED)
                port.probe_store(addr)
                reserved = hart.reservation == addr
                hart.reservation = None
                result = 1
                if reserved:
                    old = ld(addr)
                    loaded = hart.reservation_value
                    if old == (loaded if size == 8 else alu.sx32(loaded)):
                        st(addr, x[i.rs2])
                    result = 0 if old == loaded else 1
                x[i.rd] = result
                return pc + i.length

            return h

        for suffix, size in (("w", 4), ("d", 8)):
            for base, f in _AMO.items():
                table[f"{base}.{suffix}"] = amo(f, size)
            table[f"lr.{suffix}"] = lr(size)
            table[f"sc.{suffix}"] = sc(size)
        return table
