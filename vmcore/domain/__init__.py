"""The vmcore domain kernel: the VirtualMachine aggregate, its events and value objects.

Depends only on the standard library, attrs and ``eventsourcing.domain``.
"""

from vmcore.domain.aggregate import VirtualMachine
from vmcore.domain.config import (
    KNOWN_FLAGS,
    PAGE_SIZE,
    Architecture,
    VmConfig,
    format_memory_size,
    parse_memory_size,
)
from vmcore.domain.errors import DomainError, IllegalTransition, InvalidValue, InvariantViolation
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
from vmcore.domain.runtime import RuntimeEvent, RuntimePublisher, discard_runtime_event, topic_of
from vmcore.domain.trn import SYSTEM_ACTOR, Trn

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
