"""Snapshots: restoring a state and running on equals never having stopped; diffs store only
the pages written since their base."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore_domain_services.execution import HaltReason, Machine, MachineState, TieringPolicy
from vmcore_domain_services.riscv.asm import assemble, encode, li
from vmcore_domain_services.riscv.csr import Csr

from .conftest import CODE, DATA, TIERS  # type: ignore[import-not-found]

FINISH = [*li(28, 0x10_0000), *li(29, 0x5555), encode("sw", 0, 28, 29)]


def program() -> list[int]:
    """A store loop over two data pages, interrupted every 97 instructions by the timer."""
    handler = CODE + 4 * 64
    words = [
        *li(9, handler), encode("csrrw", 0, 9, imm=Csr.MTVEC),
        *li(10, 0x200_4000), *li(11, 97), encode("sd", 0, 10, 11),
        *li(12, 1 << 7), encode("csrrs", 0, 12, imm=Csr.MIE),
        encode("csrrsi", 0, 8, imm=Csr.MSTATUS),
        *li(6, 3000), *li(7, DATA),
        encode("add", 5, 5, 6), encode("andi", 8, 6, imm=1023), encode("slli", 8, 8, imm=3),
        encode("add", 8, 8, 7), encode("sd", 0, 8, 5), encode("addi", 6, 6, imm=-1),
        encode("bne", 0, 6, 0, imm=-24), *FINISH,
    ]  # fmt: skip
    words += [encode("addi", 0, 0, imm=0)] * (64 - len(words))
    words += [encode("addi", 20, 20, imm=1), encode("ld", 21, 10), encode("addi", 21, 21, imm=97),
              encode("sd", 0, 10, 21), encode("mret")]  # fmt: skip
    return words


def machine(tier: str) -> Machine:
    m = Machine(1 << 20, console=lambda b: None, tiering=TIERS[tier])
    m.memory.write_bytes(CODE, assemble(program()))
    m.hart.pc = CODE
    return m


def finish(m: Machine) -> MachineState:
    assert HaltReason.EXITED == m.run().reason
    return m.capture_state()


REFERENCE = finish(machine("interpreter"))


@settings(max_examples=12, deadline=None)
@given(
    stop=st.integers(1, 20_000),
    first=st.sampled_from(sorted(TIERS)),
    second=st.sampled_from(sorted(TIERS)),
)
def test_restore_and_run_on_equals_never_stopping(stop: int, first: str, second: str) -> None:
    m = machine(first)
    m.run(stop)
    state = m.capture_state()
    other = Machine(1 << 20, console=lambda b: None, tiering=TIERS[second])
    other.restore(state)
    assert REFERENCE == finish(other)
    assert REFERENCE == finish(m)


def test_diff_snapshot_stores_only_dirty_pages() -> None:
    m = machine("translated")
    m.run(2_000)
    base = m.capture_state()
    m.run(500)
    diff = m.capture_state(base)
    assert "diff" == diff.kind
    assert 1 <= len(diff.blobs) <= 2  # only the data pages the loop writes
    assert base.pages.keys() <= diff.pages.keys()
    restored = Machine(1 << 20, console=lambda b: None, tiering=TieringPolicy(translate=False))
    restored.restore(diff)
    assert diff == restored.capture_state()
    assert REFERENCE == finish(restored)


def test_timer_interrupts_are_counted_identically() -> None:
    assert REFERENCE.registers[20] > 10
    assert REFERENCE == finish(machine("translated"))


def test_states_round_trip_through_primitives() -> None:
    m = machine("translated")
    m.run(1_000)
    base = m.capture_state()
    m.run(1_000)
    diff = m.capture_state(base)
    base_again = MachineState.from_primitives(base.to_primitives())
    diff_again = MachineState.from_primitives(diff.to_primitives(), base_again)
    assert (base, diff) == (base_again, diff_again)
    restored = machine("interpreter")
    restored.restore(diff_again)
    assert REFERENCE == finish(restored)
