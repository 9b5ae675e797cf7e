"""Machine behaviour both tiers must share: precise faults, self-modifying code, fence.i,
page-crossing blocks, timer interrupts, exact instruction limits, pause, runtime events."""

from __future__ import annotations

import threading

from vmcore.domain.runtime import RuntimeEvent
from vmcore_domain_services.execution import HaltReason, Machine, TieringPolicy
from vmcore_domain_services.riscv.asm import assemble, encode, li
from vmcore_domain_services.riscv.csr import Csr

from .conftest import CODE, DATA, Build  # type: ignore[import-not-found]

FINISH = [*li(28, 0x10_0000), *li(29, 0x5555), encode("sw", 0, 28, 29)]
"""Write the test finisher's PASS code: the run ends with EXITED, exit code 0."""


def handler_at(words: list[int], at_word: int) -> list[int]:
    return words + [encode("addi", 0, 0, imm=0)] * (at_word - len(words))


def test_fault_in_the_middle_of_a_block_is_precise(build: Build) -> None:
    body = [
        *li(1, 11),
        encode("addi", 2, 0, imm=22),
        encode("ld", 3, 0, imm=8),  # address 8: no RAM, a load access fault
        encode("addi", 4, 0, imm=44),
        encode("ebreak"),
    ]
    handler = [encode("csrrs", 5, 0, imm=Csr.MEPC), encode("csrrs", 6, 0, imm=Csr.MCAUSE),
               encode("csrrs", 7, 0, imm=Csr.MTVAL), *FINISH]  # fmt: skip
    words = handler_at([*li(9, CODE + 64 * 4), encode("csrrw", 0, 9, imm=Csr.MTVEC), *body], 64)
    machine = build(words + handler)
    result = machine.run(10_000)
    x = machine.hart.x
    fault_pc = CODE + 4 * (len(li(9, CODE + 256)) + 1 + len(li(1, 11)) + 1)
    assert (HaltReason.EXITED, 0) == (result.reason, result.exit_code)
    assert (11, 22, 0, 0) == (x[1], x[2], x[3], x[4])
    assert (fault_pc, 5, 8) == (x[5], x[6], x[7])


def test_store_over_translated_code_runs_the_new_code(build: Build) -> None:
    patched = encode("addi", 5, 5, imm=100)
    prologue = [*li(6, 3), *li(7, patched)]
    loop_at = len(prologue)
    loop = [
        encode("addi", 5, 5, imm=1),
        encode("addi", 6, 6, imm=-1),
        encode("bne", 0, 6, 0, imm=-8),
    ]
    after_at = loop_at + len(loop)
    after = [
        encode("bne", 0, 10, 0, imm=4 * 6),  # second time round: done
        encode("sw", 0, 9, 7),  # patch the loop's first instruction
        encode("addi", 10, 0, imm=1),
        encode("addi", 6, 0, imm=3),
        encode("fence.i"),
        encode("jal", 0, imm=-4 * (after_at + 5 - loop_at)),
    ]
    machine = build([*prologue, *loop, *after, *FINISH])
    machine.hart.x[9] = CODE + 4 * loop_at
    result = machine.run(10_000)
    assert HaltReason.EXITED == result.reason
    assert 3 * 1 + 3 * 100 == machine.hart.x[5]


def test_store_into_the_running_block_is_seen_at_once(build: Build) -> None:
    new = encode("addi", 5, 0, imm=7)
    words = [*li(7, new), *li(8, 0), encode("auipc", 8, imm=0), encode("sw", 0, 8, 7, imm=12),
             encode("addi", 5, 0, imm=1), encode("addi", 5, 0, imm=2), *FINISH]  # fmt: skip
    machine = build(words)
    result = machine.run(1000)
    assert (HaltReason.EXITED, 7) == (result.reason, machine.hart.x[5])


def test_blocks_cross_pages_and_straddling_instructions(build: Build) -> None:
    # A compressed nop puts a 32-bit instruction across the 4 KiB boundary.
    machine = build([])
    start = CODE + 0x1000 - 12
    code = assemble([encode("addi", 5, 5, imm=3), encode("addi", 6, 6, imm=5)])
    straddle = encode("add", 7, 5, 6).to_bytes(4, "little")
    tail = assemble([encode("addi", 8, 8, imm=-1), encode("bne", 0, 8, 0, imm=-18), *FINISH])
    machine.memory.write_bytes(start, code + b"\x01\x00" + straddle + tail)
    machine.hart.pc = start
    machine.hart.x[8] = 5
    assert HaltReason.EXITED == machine.run(1000).reason
    assert (15, 25, 40) == tuple(machine.hart.x[5:8])


def test_instruction_limit_is_exact_and_resumable(build: Build) -> None:
    words = [*li(6, 1000), encode("addi", 5, 5, imm=1), encode("addi", 6, 6, imm=-1),
             encode("bne", 0, 6, 0, imm=-8), *FINISH]  # fmt: skip
    machine = build(words)
    counts = [machine.run(n).instructions for n in (1, 7, 100, 333)]
    assert [1, 7, 100, 333] == counts
    assert 441 == machine.instret
    rest = machine.run()
    assert HaltReason.EXITED == rest.reason
    assert len(li(6, 1000)) + 3 * 1000 + len(FINISH) == machine.instret


def test_timer_interrupt_arrives_at_the_exact_instruction(build: Build) -> None:
    handler = CODE + 4 * 64
    words = [
        *li(9, handler), encode("csrrw", 0, 9, imm=Csr.MTVEC),
        *li(10, 0x200_4000), *li(11, 500), encode("sd", 0, 10, 11),  # mtimecmp = 500
        *li(12, 1 << 7), encode("csrrs", 0, 12, imm=Csr.MIE),
        encode("csrrsi", 0, 8, imm=Csr.MSTATUS),  # mstatus.MIE (bit 3)
        encode("addi", 5, 5, imm=1), encode("jal", 0, imm=-4),
    ]  # fmt: skip
    setup = len(words) - 2
    words = handler_at(words, 64)
    words += [encode("csrrs", 6, 0, imm=Csr.MCAUSE), encode("csrrs", 13, 0, imm=0xB02), *FINISH]
    machine = build(words)
    assert HaltReason.EXITED == machine.run(100_000).reason
    # mtime counts retired instructions: the interrupt is taken with exactly 500 retired.
    assert ((1 << 63) | 7, 501) == (machine.hart.x[6], machine.hart.x[13])
    assert (500 - setup + 1) // 2 == machine.hart.x[5]


def test_pause_requested_from_another_thread_is_honoured(build: Build) -> None:
    printed = threading.Event()
    words = [*li(10, 0x1000_0000), encode("addi", 11, 0, imm=65), encode("sb", 0, 10, 11),
             encode("addi", 5, 5, imm=1), encode("jal", 0, imm=-4)]  # fmt: skip
    machine = build(words)
    machine.uart.console = lambda data: printed.set()

    def pauser() -> None:
        printed.wait()
        machine.request_pause()

    thread = threading.Thread(target=pauser)
    thread.start()
    result = machine.run()
    thread.join()
    assert HaltReason.PAUSED == result.reason
    before = machine.instret
    assert HaltReason.LIMIT == machine.run(50).reason
    assert before + 50 == machine.instret


def test_hot_blocks_are_translated_and_reported() -> None:
    events: list[RuntimeEvent] = []
    words = [*li(6, 100), encode("addi", 5, 5, imm=1), encode("addi", 6, 6, imm=-1),
             encode("bne", 0, 6, 0, imm=-8), *FINISH]  # fmt: skip
    machine = Machine(1 << 20, console=lambda b: None, publisher=events.append,
                      tiering=TieringPolicy(hot_threshold=3))  # fmt: skip
    machine.memory.write_bytes(CODE, assemble(words))
    machine.hart.pc = CODE
    machine.run()
    loop_pc = CODE + 4 * len(li(6, 100))
    topics = [(e.bus_topic, e.data["pc"]) for e in events]
    assert ("exec.hotspot", loop_pc) in topics
    assert ("exec.block_translated", loop_pc) in topics
    assert 100 == machine.hart.x[5]
    assert DATA > CODE


def test_delegated_interrupt_is_taken_in_s_mode(build: Build) -> None:
    s_code = CODE + 4 * 40
    s_handler = CODE + 4 * 64
    words = [
        *li(9, s_handler), encode("csrrw", 0, 9, imm=Csr.STVEC),
        *li(9, 1 << 5), encode("csrrs", 0, 9, imm=Csr.MIDELEG),  # delegate STI
        encode("csrrs", 0, 9, imm=Csr.MIE), encode("csrrs", 0, 9, imm=Csr.MIP),  # STIE, STIP
        encode("csrrsi", 0, 2, imm=Csr.SSTATUS),  # SIE
        *li(9, 3 << 11), encode("csrrc", 0, 9, imm=Csr.MSTATUS),
        *li(9, 1 << 11), encode("csrrs", 0, 9, imm=Csr.MSTATUS),  # MPP = S
        *li(9, s_code), encode("csrrw", 0, 9, imm=Csr.MEPC), encode("mret"),
    ]  # fmt: skip
    words = [*handler_at(words, 40), encode("addi", 5, 5, imm=1), encode("jal", 0, imm=-4)]
    words = handler_at(words, 64)
    words += [encode("csrrs", 6, 0, imm=Csr.SCAUSE), encode("csrrs", 7, 0, imm=Csr.SEPC),
              *FINISH]  # fmt: skip
    machine = build(words)
    assert HaltReason.EXITED == machine.run(10_000).reason
    assert ((1 << 63) | 5, s_code, 0) == (machine.hart.x[6], machine.hart.x[7], machine.hart.x[5])
    assert 1 == machine.hart.priv
