"""The execution manager: tiered execution of RISC-V guests, code cache, snapshots.

``Machine.from_elf(path, memory_size, console)`` builds a ``virt``-like RV64IMAC machine;
``machine.run(max_instructions)`` returns a :class:`RunResult`; ``machine.request_pause()``
stops a run at the next block boundary; ``machine.capture_state(base)`` and
``machine.restore(state)`` snapshot and restore it. See ``docs/execution.md``.
"""

from .code_cache import CachedBlock, CodeCache
from .machine import RAM_BASE, Machine, TieringPolicy
from .results import HaltReason, RunResult
from .snapshot import MachineState
from .translation import FRONTENDS, PythonBackend, SourceBlock, TranslatedBlock, translate_block

__all__ = [
    "FRONTENDS",
    "RAM_BASE",
    "CachedBlock",
    "CodeCache",
    "HaltReason",
    "Machine",
    "MachineState",
    "PythonBackend",
    "RunResult",
    "SourceBlock",
    "TieringPolicy",
    "TranslatedBlock",
    "translate_block",
]
