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
from vmcore.testing.unicorn_oracle import unicorn_vmem_translate

__all__ = [
    "VmLifecycleMachine",
    "command_arguments",
    "command_names",
    "command_sequences",
    "memory_sizes",
    "trns",
    "unicorn_vmem_translate",
    "vm_configs",
    "vm_names",
]
