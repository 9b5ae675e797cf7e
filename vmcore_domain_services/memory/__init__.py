"""Guest physical memory: sparse RAM, MMIO windows, dirty-page tracking."""

from vmcore_domain_services.memory.errors import AccessKind, MemoryAccessError
from vmcore_domain_services.memory.guest_memory import (
    PAGE_SHIFT,
    PAGE_SIZE,
    GuestMemory,
    SizedConfig,
)
from vmcore_domain_services.memory.mmio import MmioRead, MmioRegion, MmioWrite

__all__ = [
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "AccessKind",
    "GuestMemory",
    "MemoryAccessError",
    "MmioRead",
    "MmioRegion",
    "MmioWrite",
    "SizedConfig",
]
