"""Build small machines from hand-assembled programs (no files, no devices beyond RAM)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vmcore_domain_services.execution import Machine, TieringPolicy
from vmcore_domain_services.riscv.asm import assemble

CODE = 0x8000_0000
DATA = 0x8001_0000
TIERS = {
    "interpreter": TieringPolicy(translate=False),
    "translated": TieringPolicy(hot_threshold=1),
}
Build = Callable[..., Machine]


def _build(words: list[int], tiering: TieringPolicy, **options: object) -> Machine:
    machine = Machine(1 << 20, console=lambda b: None, tiering=tiering, **options)  # type: ignore[arg-type]
    machine.memory.write_bytes(CODE, assemble(words))
    machine.hart.pc = CODE
    return machine


@pytest.fixture(params=sorted(TIERS))
def build(request: pytest.FixtureRequest) -> Build:
    """``build(words, **machine_options)`` for each tier."""
    tiering = TIERS[request.param]
    return lambda words, **options: _build(words, tiering, **options)
