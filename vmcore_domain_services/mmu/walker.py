"""``walk``: one entry point for every paging mode, plus a probe and a batch form."""

from __future__ import annotations

from collections.abc import Iterable

from vmcore.domain import Architecture
from vmcore_domain_services.mmu.access import Access, RiscvContext, X86Context
from vmcore_domain_services.mmu.modes import PagingMode
from vmcore_domain_services.mmu.protocols import PhysicalMemory
from vmcore_domain_services.mmu.results import PageFault, Translation
from vmcore_domain_services.mmu.riscv_walker import walk_riscv
from vmcore_domain_services.mmu.x86_walker import walk_x86

Context = RiscvContext | X86Context
_RISCV = Architecture.RISCV64


def walk(
    mode: PagingMode,
    root: int,
    va: int,
    access: Access,
    context: Context,
    memory: PhysicalMemory,
    *,
    probe: bool = False,
) -> Translation | PageFault:
    """Walk the tables rooted at physical address ``root`` for ``va``.

    Returns a :class:`Translation` or a :class:`PageFault` value; never raises for a guest
    fault. A/D bits are updated in memory as the context's policy says, unless ``probe``.
    """
    riscv = mode.architecture is _RISCV
    if type(context) is RiscvContext and riscv:  # the exact-type tests are the fast path
        return walk_riscv(mode, root, va, access, context, memory, probe)
    if type(context) is X86Context and not riscv:
        return walk_x86(mode, root, va, access, context, memory, probe)
    if riscv:
        if not isinstance(context, RiscvContext):
            raise TypeError(f"{mode.name} needs a RiscvContext, not {type(context).__name__}")
        return walk_riscv(mode, root, va, access, context, memory, probe)
    if not isinstance(context, X86Context):
        raise TypeError(f"{mode.name} needs an X86Context, not {type(context).__name__}")
    return walk_x86(mode, root, va, access, context, memory, probe)


def probe(
    mode: PagingMode,
    root: int,
    va: int,
    access: Access,
    context: Context,
    memory: PhysicalMemory,
) -> Translation | PageFault:
    """The walk :func:`walk` would do, with no side effects (for debuggers, inspection)."""
    return walk(mode, root, va, access, context, memory, probe=True)


def walk_batch(
    mode: PagingMode,
    root: int,
    vas: Iterable[int],
    access: Access,
    context: Context,
    memory: PhysicalMemory,
    *,
    probe: bool = False,
) -> list[Translation | PageFault]:
    """Walk many addresses under one mode, root and context, in order."""
    if mode.architecture is Architecture.RISCV64:
        if not isinstance(context, RiscvContext):
            raise TypeError(f"{mode.name} needs a RiscvContext")
        return [walk_riscv(mode, root, va, access, context, memory, probe) for va in vas]
    if not isinstance(context, X86Context):
        raise TypeError(f"{mode.name} needs an X86Context")
    return [walk_x86(mode, root, va, access, context, memory, probe) for va in vas]
