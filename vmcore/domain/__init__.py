"""The vmcore domain kernel: the VirtualMachine aggregate, its events and value objects.

Depends only on the standard library, attrs and ``eventsourcing.domain``.

Names load on first use (PEP 562): importing one submodule (``vmcore.domain.errors``),
or the package for one name, costs only what that name needs. The event classes and the
aggregates are the expensive part (eventsourcing makes each event class a frozen dataclass),
and a command that reads no event (``vmcore vm list`` on an up-to-date fleet view) never
builds them.
"""

from typing import TYPE_CHECKING

from vmcore.domain.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from vmcore.domain.aggregate import VirtualMachine
    from vmcore.domain.config import (
        KNOWN_FLAGS,
        PAGE_SIZE,
        Architecture,
        VmConfig,
        format_memory_size,
        parse_memory_size,
    )
    from vmcore.domain.errors import (
        DomainError,
        IllegalTransition,
        InvalidValue,
        InvariantViolation,
    )
    from vmcore.domain.events import EVENT_CLASSES, VmEvent
    from vmcore.domain.evolution import project_virtual_machine
    from vmcore.domain.lifecycle import (
        TRANSITIONS,
        PauseReason,
        StopReason,
        Transition,
        VmState,
        allowed_commands,
        mermaid_state_diagram,
        state_edges,
    )
    from vmcore.domain.metadata import CommandContext
    from vmcore.domain.naming import VmName, check_vm_name, name_claim_id
    from vmcore.domain.resources import MEMORY_TYPES, Device, MemoryRegion
    from vmcore.domain.runtime import (
        RuntimeEvent,
        RuntimePublisher,
        discard_runtime_event,
        topic_of,
    )
    from vmcore.domain.trn import SYSTEM_ACTOR, Trn

_LAZY = {
    "VirtualMachine": "vmcore.domain.aggregate",
    "KNOWN_FLAGS": "vmcore.domain.config",
    "PAGE_SIZE": "vmcore.domain.config",
    "Architecture": "vmcore.domain.config",
    "VmConfig": "vmcore.domain.config",
    "format_memory_size": "vmcore.domain.config",
    "parse_memory_size": "vmcore.domain.config",
    "DomainError": "vmcore.domain.errors",
    "IllegalTransition": "vmcore.domain.errors",
    "InvalidValue": "vmcore.domain.errors",
    "InvariantViolation": "vmcore.domain.errors",
    "EVENT_CLASSES": "vmcore.domain.events",
    "VmEvent": "vmcore.domain.events",
    "project_virtual_machine": "vmcore.domain.evolution",
    "TRANSITIONS": "vmcore.domain.lifecycle",
    "PauseReason": "vmcore.domain.lifecycle",
    "StopReason": "vmcore.domain.lifecycle",
    "Transition": "vmcore.domain.lifecycle",
    "VmState": "vmcore.domain.lifecycle",
    "allowed_commands": "vmcore.domain.lifecycle",
    "mermaid_state_diagram": "vmcore.domain.lifecycle",
    "state_edges": "vmcore.domain.lifecycle",
    "CommandContext": "vmcore.domain.metadata",
    "VmName": "vmcore.domain.naming",
    "check_vm_name": "vmcore.domain.naming",
    "name_claim_id": "vmcore.domain.naming",
    "MEMORY_TYPES": "vmcore.domain.resources",
    "Device": "vmcore.domain.resources",
    "MemoryRegion": "vmcore.domain.resources",
    "RuntimeEvent": "vmcore.domain.runtime",
    "RuntimePublisher": "vmcore.domain.runtime",
    "discard_runtime_event": "vmcore.domain.runtime",
    "topic_of": "vmcore.domain.runtime",
    "SYSTEM_ACTOR": "vmcore.domain.trn",
    "Trn": "vmcore.domain.trn",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "EVENT_CLASSES",
    "KNOWN_FLAGS",
    "MEMORY_TYPES",
    "PAGE_SIZE",
    "SYSTEM_ACTOR",
    "TRANSITIONS",
    "Architecture",
    "CommandContext",
    "Device",
    "DomainError",
    "IllegalTransition",
    "InvalidValue",
    "InvariantViolation",
    "MemoryRegion",
    "PauseReason",
    "RuntimeEvent",
    "RuntimePublisher",
    "StopReason",
    "Transition",
    "Trn",
    "VirtualMachine",
    "VmConfig",
    "VmEvent",
    "VmName",
    "VmState",
    "allowed_commands",
    "check_vm_name",
    "discard_runtime_event",
    "format_memory_size",
    "mermaid_state_diagram",
    "name_claim_id",
    "parse_memory_size",
    "project_virtual_machine",
    "state_edges",
    "topic_of",
]
