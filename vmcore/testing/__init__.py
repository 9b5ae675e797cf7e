"""Hypothesis strategies and a lifecycle state machine for testing code built on vmcore."""

from vmcore.testing.lifecycle_machine import VmLifecycleMachine
from vmcore.testing.strategies import (
    command_arguments,
    command_names,
    command_sequences,
    memory_sizes,
    trns,
    vm_configs,
    vm_names,
)

__all__ = [
    "VmLifecycleMachine",
    "command_arguments",
    "command_names",
    "command_sequences",
    "memory_sizes",
    "trns",
    "vm_configs",
    "vm_names",
]
