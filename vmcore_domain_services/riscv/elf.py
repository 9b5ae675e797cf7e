"""Load a RISC-V ELF executable into guest memory with pyelftools."""

from __future__ import annotations

from pathlib import Path

from elftools.elf.elffile import ELFFile

from vmcore_domain_services.memory import GuestMemory

__all__ = ["ElfImage", "load_elf"]

_EM_RISCV = 243
_PT_LOAD = "PT_LOAD"


class ElfImage:
    """What the loader found: the entry point and the symbol table (name -> address)."""

    def __init__(self, entry: int, symbols: dict[str, int]) -> None:
        self.entry = entry
        self.symbols = symbols


def load_elf(path: str | Path, memory: GuestMemory) -> ElfImage:
    """Copy every PT_LOAD segment to its physical address (zero-filling .bss).

    Raises ``ValueError`` for a file that is not a 64-bit RISC-V ELF or whose segments do
    not fit in RAM (and pyelftools' ``ELFError`` for a malformed file).
    """
    with open(path, "rb") as stream:
        elf = ELFFile(stream)
        if elf["e_machine"] != "EM_RISCV" and elf["e_machine"] != _EM_RISCV:
            raise ValueError(f"{path}: not a RISC-V ELF ({elf['e_machine']})")
        if elf.elfclass != 64:
            raise ValueError(f"{path}: not a 64-bit ELF")
        for segment in elf.iter_segments():
            if segment["p_type"] != _PT_LOAD or segment["p_memsz"] == 0:
                continue
            data = segment.data()
            address = segment["p_paddr"]
            if not memory.in_ram(address, max(1, segment["p_memsz"])):
                raise ValueError(
                    f"{path}: segment at {address:#x} (+{segment['p_memsz']:#x} bytes) is "
                    f"outside guest RAM [{memory.base:#x}, {memory.end:#x})"
                )
            memory.write_bytes(address, data)
            bss = segment["p_memsz"] - len(data)
            if bss > 0:
                memory.write_bytes(address + len(data), bytes(bss))
        symbols: dict[str, int] = {}
        symtab = elf.get_section_by_name(".symtab")
        if symtab is not None:
            for symbol in symtab.iter_symbols():  # type: ignore[attr-defined]
                if symbol.name:
                    symbols[symbol.name] = symbol["st_value"]
        return ElfImage(int(elf["e_entry"]), symbols)
