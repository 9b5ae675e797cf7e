"""The DebugTarget over a real machine running the example guests: breakpoints and
watchpoints in the translated tier stop exactly where the interpreter alone would, without
flushing the translated code; reverse steps retrace the forward run exactly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from vmcore_domain_services.debug import DebugTarget, Stop
from vmcore_domain_services.execution import Machine, MachineState, TieringPolicy
from vmcore_domain_services.riscv.decoder import decode

GUESTS = Path(__file__).resolve().parents[3] / "examples" / "guests"


@pytest.fixture(scope="module")
def build() -> Path:
    subprocess.run(["make", "-C", str(GUESTS)], check=True, capture_output=True)
    return GUESTS / "build"


def symbol(elf: Path, name: str) -> int:
    with elf.open("rb") as handle:
        table = ELFFile(handle).get_section_by_name(".symtab")
        return int(table.get_symbol_by_name(name)[0]["st_value"])


def machine(elf: Path, translate: bool = True) -> Machine:
    return Machine.from_elf(elf, 16 << 20, console=lambda data: None,
                            tiering=TieringPolicy(translate=translate))


def reference(elf: Path, instret: int) -> MachineState:
    """The interpreter alone, run for exactly ``instret`` instructions."""
    plain = machine(elf, translate=False)
    plain.run(instret)
    return plain.capture_state()


def test_a_breakpoint_in_a_hot_translated_block_stops_exactly_there(build: Path) -> None:
    elf = build / "sieve.elf"
    m = machine(elf)
    target = DebugTarget(m, interval=50_000)
    assert target.advance(300_000) is None
    translated = len(m.cache)
    block = max((b for t in m.cache.tables.values() for b in t.values() if b is not None),
                key=lambda b: b.executions if b.executions else b.instructions)
    # a pc in the middle of a translated block (its third instruction)
    pc = block.pc
    for _ in range(2):
        pc += decode(m.port.fetch(pc)).length
    holding = sum(1 for t in m.cache.tables.values() for b in t.values()
                  if b is not None and any(lo <= pc < hi for lo, hi in b.ranges))
    target.add_breakpoint(pc)
    assert translated - holding == len(m.cache)  # only the blocks holding pc were dropped
    target.resume()
    stop = None
    while stop is None:
        stop = target.advance(100_000)
    assert Stop(reason="swbreak") == stop
    assert pc == m.hart.pc
    assert reference(elf, m.instret) == m.capture_state()
    assert len(m.cache) > translated // 2  # the run did not fall back to the interpreter


def test_a_watchpoint_stops_at_the_store_before_it_writes(build: Path) -> None:
    elf = build / "sieve.elf"
    watched = symbol(elf, "composite") + 4
    m = machine(elf)
    target = DebugTarget(m, interval=50_000)
    assert target.advance(200_000) is None  # hot: the sieve's loops are translated
    target.add_watchpoint("watch", watched, 1)
    stop = target.advance(1_000_000)
    assert Stop(reason="watch", value=watched) == stop
    assert decode(m.port.fetch(m.hart.pc)).name in ("sb", "sh", "sw", "sd")
    assert reference(elf, m.instret) == m.capture_state()
    store_pc, instret = m.hart.pc, m.instret
    target.remove_watchpoint("watch", watched, 1)
    assert Stop() == target.step()
    assert (store_pc + decode(m.port.fetch(store_pc)).length, instret + 1) == (m.hart.pc,
                                                                              m.instret)


def test_reverse_steps_retrace_the_forward_run(build: Path) -> None:
    elf = build / "counter.elf"
    m = machine(elf)
    target = DebugTarget(m, interval=16)
    forward = [target.registers()]
    for _ in range(100):
        assert Stop() == target.step()
        forward.append(target.registers())
    backward = [target.registers()]
    for _ in range(100):
        assert Stop() == target.reverse_step()
        backward.append(target.registers())
    assert forward[::-1] == backward
    assert Stop(reason="replaylog", value="begin") == target.reverse_step()
    assert target.replays <= 100 * 16


def test_reverse_continue_returns_to_the_previous_breakpoint_hit(build: Path) -> None:
    elf = build / "counter.elf"
    bump = symbol(elf, "bump")
    m = machine(elf)
    target = DebugTarget(m, interval=32)
    target.add_breakpoint(bump)
    hits = []
    for _ in range(4):
        target.resume()
        assert Stop(reason="swbreak") == target.advance(10_000)
        hits.append((m.instret, target.registers()))
    for instret, registers in reversed(hits[:-1]):
        assert Stop(reason="swbreak") == target.reverse_continue()
        assert (instret, registers) == (m.instret, target.registers())
    assert Stop(reason="replaylog", value="begin") == target.reverse_continue()
    assert 0 == m.instret


def test_re_executed_output_is_not_shown_twice(build: Path) -> None:
    out: list[bytes] = []
    m = Machine.from_elf(build / "hello.elf", 16 << 20, console=out.append)
    target = DebugTarget(m, interval=50)
    assert Stop(exit_code=0) == target.advance(100_000)
    shown = b"".join(out)
    assert b"Hello from RISC-V on vmcore!\n" == shown
    for _ in range(120):  # back into the printing loop
        assert Stop() == target.reverse_step()
    assert Stop(exit_code=0) == target.advance(100_000)
    assert shown == b"".join(out)
