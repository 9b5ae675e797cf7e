"""Load a RISC-V ELF executable into guest memory with pyelftools.

The file is untrusted input: every size and address in it is checked before anything is
read or written (a ``p_filesz`` near 2^64 must not become a read of 2^64 bytes), and any
way a malformed file makes the parser fail ends as one :class:`ElfImageError` naming the
file and the problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from vmcore_domain_services.memory import GuestMemory

__all__ = ["ElfImage", "ElfImageError", "load_elf"]

_EM_RISCV = 243
_PT_LOAD = "PT_LOAD"
_PARSER_ERRORS = (ELFError, ValueError, LookupError, TypeError, AttributeError,
                  OverflowError, ArithmeticError, UnicodeError, EOFError, AssertionError,
                  OSError)
"""What pyelftools raises on malformed headers or tables (it trusts what it reads; an
offset near 2^64 makes it seek to where no file reaches: OSError)."""


class ElfImageError(ValueError):
    """The file is not a 64-bit RISC-V executable this machine can load."""


class ElfImage:
    """What the loader found: the entry point and the symbol table (name -> address)."""

    def __init__(self, entry: int, symbols: dict[str, int]) -> None:
        self.entry = entry
        self.symbols = symbols


def load_elf(path: str | Path, memory: GuestMemory) -> ElfImage:
    """Copy every PT_LOAD segment to its physical address (zero-filling .bss).

    Raises :class:`ElfImageError` (a ``ValueError``, its message naming the problem; the
    caller names the file) for a file that is not a 64-bit RISC-V
    ELF, is malformed, or whose segments do not fit in guest RAM; ``OSError`` if it cannot
    be read. Nothing is written to memory unless every segment passed its checks.
    """
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        try:
            elf = ELFFile(stream)
            _check_machine(elf)
            segments = [_checked(segment, index, size, memory)
                        for index, segment in enumerate(elf.iter_segments())]
            loads = [segment for segment in segments if segment is not None]
            contents = [(segment, _read(stream, segment)) for segment in loads]
            symbols = _symbols(elf)
            entry = int(elf["e_entry"])
        except ElfImageError:
            raise
        except _PARSER_ERRORS as error:
            raise ElfImageError(f"malformed ELF ({type(error).__name__}: {error})") from error
    for segment, data in contents:
        address, memsz = segment["p_paddr"], segment["p_memsz"]
        memory.write_bytes(address, data)
        if memsz > len(data):
            memory.write_bytes(address + len(data), bytes(memsz - len(data)))
    return ElfImage(entry, symbols)


def _check_machine(elf: ELFFile) -> None:
    if elf["e_machine"] != "EM_RISCV" and elf["e_machine"] != _EM_RISCV:
        raise ElfImageError(f"not a RISC-V ELF ({elf['e_machine']})")
    if elf.elfclass != 64:
        raise ElfImageError("not a 64-bit ELF")


def _checked(segment: Any, index: int, file_size: int, memory: GuestMemory) -> Any | None:
    """The segment if it is a PT_LOAD to load, None to skip; ElfImageError if it is bad."""
    if segment["p_type"] != _PT_LOAD or segment["p_memsz"] == 0:
        return None
    offset, filesz = segment["p_offset"], segment["p_filesz"]
    address, memsz = segment["p_paddr"], segment["p_memsz"]
    where = f"segment {index}"
    if filesz > memsz:
        raise ElfImageError(f"{where}: p_filesz {filesz:#x} is larger than p_memsz {memsz:#x}")
    if offset > file_size or filesz > file_size - offset:
        raise ElfImageError(f"{where}: file bytes [{offset:#x}, +{filesz:#x}) lie beyond the"
                            f" end of the {file_size}-byte file")
    if not memory.in_ram(address, memsz):
        raise ElfImageError(f"{where} at {address:#x} (+{memsz:#x} bytes) is outside guest"
                            f" RAM [{memory.base:#x}, {memory.end:#x})")
    return segment


def _read(stream: BinaryIO, segment: Any) -> bytes:
    stream.seek(segment["p_offset"])
    data = stream.read(segment["p_filesz"])
    if len(data) != segment["p_filesz"]:
        raise EOFError("the file ended inside a segment")
    return data


def _symbols(elf: ELFFile) -> dict[str, int]:
    symbols: dict[str, int] = {}
    symtab = elf.get_section_by_name(".symtab")
    if symtab is not None:
        for symbol in symtab.iter_symbols():  # type: ignore[attr-defined]
            if symbol.name:
                symbols[symbol.name] = int(symbol["st_value"])
    return symbols
