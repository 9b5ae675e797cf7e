"""VM configuration value objects: sizes with units, architectures, flags, limits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum
from functools import lru_cache
from typing import Any

from attrs import field, frozen

from vmcore.domain.errors import InvalidValue

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
PAGE_SIZE = 4096
MAX_VCPUS = 512
MAX_MEMORY = 16 << 40  # 16 TiB, the most any architecture vmcore models can address here
KNOWN_FLAGS = frozenset({"jit", "tiered", "simd", "hugepages", "nested"})


def parse_memory_size(value: int | str) -> int:
    """Bytes from ``512M``, ``2G``, ``4096`` or an int; raises naming the bad input."""
    if isinstance(value, bool):
        raise InvalidValue(f"memory size must be a size such as '512M', got {value!r}")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if match is None:
            raise InvalidValue(
                f"memory size {value!r} is not a size: use a number with an optional unit"
                " K, M, G or T (for example '512M' or '2G')"
            )
        size = int(match.group(1)) * _UNITS[match.group(2).upper()]
    if size <= 0 or size % PAGE_SIZE:
        raise InvalidValue(f"memory size must be a positive multiple of 4 KiB, got {value!r}")
    if size > MAX_MEMORY:
        raise InvalidValue(f"memory size {value!r} is too large: at most 16T")
    return size


@lru_cache(maxsize=1024)  # a fleet has few distinct sizes, and `vm list` spells one per VM
def format_memory_size(size: int) -> str:
    """The shortest exact spelling of a size: 536870912 -> '512M'."""
    for unit in ("T", "G", "M", "K"):
        if size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return str(size)


class Architecture(Enum):
    """Guest instruction-set architectures the control plane knows."""

    RISCV64 = "riscv64"
    X86_64 = "x86_64"
    AARCH64 = "aarch64"

    @classmethod
    def parse(cls, value: str | Architecture) -> Architecture:
        if isinstance(value, Architecture):
            return value
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(arch.value for arch in cls)
            raise InvalidValue(f"unknown architecture {value!r}: use one of {known}") from None


def _check_vcpus(_instance: object, _attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VCPUS:
        raise InvalidValue(f"vCPU count must be an integer from 1 to {MAX_VCPUS}, got {value!r}")


def _check_flags(_instance: object, _attribute: object, value: frozenset[str]) -> None:
    unknown = sorted(value - KNOWN_FLAGS)
    if unknown:
        raise InvalidValue(
            f"unknown flag(s) {', '.join(unknown)}:"
            f" known flags are {', '.join(sorted(KNOWN_FLAGS))}"
        )


def _to_architecture(value: str | Architecture) -> Architecture:
    return Architecture.parse(value)


def _to_frozenset(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


def _optional_size(value: int | str | None) -> int | None:
    if value is None:
        return None
    return parse_memory_size(value)


@frozen
class VmConfig:
    """What a VM is made of. Limits (``max_*``) bound hot-plug while running."""

    vcpus: int = field(default=1, validator=_check_vcpus)
    memory: int = field(default=128 << 20, converter=parse_memory_size)
    arch: Architecture = field(default=Architecture.RISCV64, converter=_to_architecture)
    flags: frozenset[str] = field(factory=frozenset, converter=_to_frozenset,
                                  validator=_check_flags)
    max_vcpus: int | None = field(default=None)
    max_memory: int | None = field(default=None, converter=_optional_size)

    def __attrs_post_init__(self) -> None:
        if self.max_vcpus is not None:
            _check_vcpus(self, None, self.max_vcpus)
            if self.max_vcpus < self.vcpus:
                raise InvalidValue(
                    f"max_vcpus ({self.max_vcpus}) is below vcpus ({self.vcpus})"
                )
        if self.max_memory is not None and self.max_memory < self.memory:
            raise InvalidValue(
                f"max_memory ({format_memory_size(self.max_memory)}) is below memory"
                f" ({format_memory_size(self.memory)})"
            )

    @property
    def vcpu_limit(self) -> int:
        return self.vcpus if self.max_vcpus is None else self.max_vcpus

    @property
    def memory_limit(self) -> int:
        return self.memory if self.max_memory is None else self.max_memory

    def to_primitive(self) -> dict[str, Any]:
        """The config as JSON-ready primitives (what events and snapshots store)."""
        return {
            "vcpus": self.vcpus,
            "memory": self.memory,
            "arch": self.arch.value,
            "flags": sorted(self.flags),
            "max_vcpus": self.max_vcpus,
            "max_memory": self.max_memory,
        }

    @classmethod
    def from_primitive(cls, data: dict[str, Any]) -> VmConfig:
        return cls(
            vcpus=data["vcpus"],
            memory=data["memory"],
            arch=data["arch"],
            flags=frozenset(data.get("flags", ())),
            max_vcpus=data.get("max_vcpus"),
            max_memory=data.get("max_memory"),
        )
