"""RV64IMAC + Zicsr + Zifencei guest: decoder, interpreter, IR, passes, code generation,
CSRs and traps, the machine's devices and the ELF loader."""

from vmcore_domain_services.mmu.access import Privilege

from .asm import assemble, encode, li
from .codegen import BlockFunction, compile_block, generate_source
from .csr import Csr, CsrFile, Mstatus
from .decoder import ILLEGAL, Insn, decode, decode_word
from .devices import CLINT_BASE, FINISHER_BASE, UART_BASE, Clint, TestFinisher, Uart
from .elf import ElfImage, ElfImageError, load_elf
from .errors import Cause, DeviceAccess, GuestTrap, Resync
from .hart import Hart, enter_trap, mret, pending_interrupt, sret
from .interpreter import Interpreter, SystemHooks
from .ir import Block
from .lift import lift_block
from .passes import DEFAULT_PASSES, constant_fold, dead_code, optimise, x0_elimination
from .port import MemoryPort

__all__ = [
    "CLINT_BASE",
    "DEFAULT_PASSES",
    "FINISHER_BASE",
    "ILLEGAL",
    "UART_BASE",
    "Block",
    "BlockFunction",
    "Cause",
    "Clint",
    "Csr",
    "CsrFile",
    "DeviceAccess",
    "ElfImage",
    "ElfImageError",
    "GuestTrap",
    "Hart",
    "Insn",
    "Interpreter",
    "MemoryPort",
    "Mstatus",
    "Privilege",
    "Resync",
    "SystemHooks",
    "TestFinisher",
    "Uart",
    "assemble",
    "compile_block",
    "constant_fold",
    "dead_code",
    "decode",
    "decode_word",
    "encode",
    "enter_trap",
    "generate_source",
    "li",
    "lift_block",
    "load_elf",
    "mret",
    "optimise",
    "pending_interrupt",
    "sret",
    "x0_elimination",
]
