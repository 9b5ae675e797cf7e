"""Value objects for what a VM holds: memory regions and devices."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from vmcore.domain.errors import InvalidValue

MEMORY_TYPES = frozenset({"ram", "rom", "mmio", "shared", "hugepage"})


def _check_memory_type(_instance: object, _attribute: object, value: str) -> None:
    if value not in MEMORY_TYPES:
        raise InvalidValue(
            f"unknown memory type {value!r}: use one of {', '.join(sorted(MEMORY_TYPES))}"
        )


def _check_non_negative(_instance: object, attribute: Any, value: int) -> None:
    if value < 0:
        raise InvalidValue(f"{attribute.name} must not be negative, got {value}")


def _check_positive(_instance: object, attribute: Any, value: int) -> None:
    if value <= 0:
        raise InvalidValue(f"{attribute.name} must be positive, got {value}")


@frozen
class MemoryRegion:
    """A guest-physical range ``[base, base + size)`` of one memory type, maybe host-mapped."""

    region_id: str
    base: int = field(validator=_check_non_negative)
    size: int = field(validator=_check_positive)
    memory_type: str = field(default="ram", validator=_check_memory_type)
    host_address: int | None = None

    @property
    def end(self) -> int:
        return self.base + self.size

    def overlaps(self, other: MemoryRegion) -> bool:
        return self.base < other.end and other.base < self.end

    @property
    def mapped(self) -> bool:
        return self.host_address is not None

    def to_primitive(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "size": self.size,
            "memory_type": self.memory_type,
            "host_address": self.host_address,
        }

    @classmethod
    def from_primitive(cls, region_id: str, data: dict[str, Any]) -> MemoryRegion:
        return cls(region_id, data["base"], data["size"], data["memory_type"],
                   data.get("host_address"))


@frozen
class Device:
    """A device attached to a VM: ``virtio-net``, ``virtio-blk``, ``uart`` ..."""

    device_id: str
    kind: str
    properties: dict[str, Any] = field(factory=dict)
