"""``translate_block(src_block, src_arch, target)``: the seam between guest ISAs and backends.

A *frontend* lifts guest code at a pc into an IR :class:`~vmcore_domain_services.riscv.ir.Block`;
the optimisation passes run over it; a *backend* turns it into something executable. Only the
``riscv64`` frontend and the ``python`` backend exist today; an x86-64 frontend plugs in by
adding to :data:`FRONTENDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from attrs import frozen

from vmcore_domain_services.riscv.codegen import BlockFunction, compile_block, helper_namespace
from vmcore_domain_services.riscv.ir import Block
from vmcore_domain_services.riscv.lift import lift_block
from vmcore_domain_services.riscv.passes import DEFAULT_PASSES, Pass, optimise

__all__ = [
    "FRONTENDS",
    "Frontend",
    "PythonBackend",
    "SourceBlock",
    "TranslatedBlock",
    "translate_block",
]


@frozen
class SourceBlock:
    """Guest code to translate: where it starts and how to read it.

    ``fetch(va)`` returns the instruction bytes at ``va`` as an int (for RISC-V, a 16- or
    32-bit parcel), ``page_of(va)`` its physical page number; ``privilege`` is the mode the
    code runs in (``ecall`` depends on it).
    """

    pc: int
    fetch: Callable[[int], int]
    page_of: Callable[[int], int]
    privilege: int
    max_insns: int = 64


@frozen
class TranslatedBlock:
    pc: int
    fn: BlockFunction
    retired: int
    pages: frozenset[int]
    source: str
    ir: Block
    ir_ops_before: int


class Frontend(Protocol):
    def __call__(self, src: SourceBlock, /) -> Block | None: ...


def _riscv64(src: SourceBlock) -> Block | None:
    return lift_block(src.pc, src.fetch, src.page_of, src.privilege, src.max_insns)


FRONTENDS: dict[str, Frontend] = {"riscv64": _riscv64}


class PythonBackend:
    """Compiles IR blocks into Python functions sharing one globals namespace."""

    name = "python"

    def __init__(self, memory_functions: dict[str, Any], passes: tuple[Pass, ...] = DEFAULT_PASSES):
        self.namespace: dict[str, Any] = helper_namespace()
        self.namespace.update({f"_{k}": v for k, v in memory_functions.items()})
        self.passes = passes

    def build(self, block: Block) -> tuple[BlockFunction, str]:
        return compile_block(block, self.namespace)


def translate_block(
    src_block: SourceBlock, src_arch: str, target: PythonBackend
) -> TranslatedBlock | None:
    """Lift, optimise and compile; ``None`` when the first instruction must be interpreted."""
    frontend = FRONTENDS.get(src_arch)
    if frontend is None:
        raise ValueError(f"no frontend for guest architecture {src_arch!r}")
    block = frontend(src_block)
    if block is None:
        return None
    before = len(block.ops)
    block = optimise(block, target.passes)
    fn, source = target.build(block)
    return TranslatedBlock(block.pc, fn, block.retired, block.pages, source, block, before)
