"""Our RISC-V Sv57/Sv48/Sv39 walker against QEMU 7.2 system emulation, on generated tables.

Each hypothesis example is a batch of scenarios (page tables plus accesses) run by one
boot of ``qemu-system-riscv64 -machine virt`` with the bare-metal probe in
``riscv_probe/``: loads and stores from M-mode with mstatus.MPRV at S or U, fetches by
``mret`` to the va at S or U. For every access both sides must agree on the value loaded
(every data word holds its own physical address), the word a store lands on, or the trap
(mcause, mtval, and mepc for fetches); after every access on the page-table words QEMU
wrote back (A/D bits), and at the end on every word of the modelled RAM.

Our walker runs with its spec defaults plus ``AdPolicy.HARDWARE``; the places where QEMU
7.2 departs from it are in ``riscv_expectations`` (``qemu_7_2_pointer_fault``,
``qemu_7_2_view``, ``MPRV_CAVEAT``). Needs
``qemu-system-riscv64`` (Debian: qemu-system-misc) and the bare-metal cross compiler;
skipped without QEMU only outside CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings

from tests.differential.qemu_system.emulators import require_emulator
from tests.differential.qemu_system.riscv_expectations import Expected, PlannedCase, plan_case
from tests.differential.qemu_system.riscv_probe_io import (
    MODEL_BASE,
    MODEL_SIZE,
    QEMU,
    TABLE_COPIES,
    CaseReport,
    build_probe,
    encode_cases,
    parse_output,
    qemu_version,
    run_probe,
)
from tests.differential.qemu_system.riscv_scenarios import (
    Scenario,
    ScenarioSpec,
    batches,
    build_batch,
    fresh_model_memory,
    sv57_edge_batch,
)
from vmcore_domain_services.memory import GuestMemory
from vmcore_domain_services.mmu import SV39, SV48, SV57


@pytest.fixture(scope="module")
def probe() -> Path:
    require_emulator(QEMU, "qemu-system-misc")
    version = qemu_version()
    assert "version 7.2." in version, f"these expectations are QEMU 7.2's, not {version}"
    return build_probe()


def _table_changes(
    memory: GuestMemory, scenario: Scenario, copies: bytearray
) -> tuple[tuple[int, int], ...]:
    """What the probe reports after a case: the scenario's table words that differ from
    the copy, which is then brought up to date."""
    start = scenario.root - MODEL_BASE
    current = memory.read_bytes(scenario.root, scenario.table_bytes)
    if current == copies[start : start + len(current)]:
        return ()
    changes = tuple(
        (scenario.root + offset, int.from_bytes(current[offset : offset + 8], "little"))
        for offset in range(0, len(current), 8)
        if current[offset : offset + 8] != copies[start + offset : start + offset + 8]
    )
    copies[start : start + len(current)] = current
    return changes


def _word_changes(before: bytes, after: bytes) -> dict[int, int]:
    changes: dict[int, int] = {}
    for page in range(0, len(before), 4096):
        if before[page : page + 4096] == after[page : page + 4096]:
            continue
        for offset in range(page, page + 4096, 8):
            if before[offset : offset + 8] != after[offset : offset + 8]:
                changes[MODEL_BASE + offset] = int.from_bytes(after[offset : offset + 8], "little")
    return changes


def _observed(planned: PlannedCase, report: CaseReport) -> Expected:
    epc = report.epc if planned.expected.epc is not None else None
    return Expected(report.trapped, report.cause, report.tval, epc, report.value)


def check_batch(probe: Path, specs: list[ScenarioSpec]) -> None:
    memory = fresh_model_memory()
    scenarios = build_batch(specs, memory)
    image = memory.read_bytes(MODEL_BASE, MODEL_SIZE)
    tables_used = scenarios[-1].table_end - MODEL_BASE
    copies = bytearray(image[:tables_used])
    planned: list[PlannedCase] = []
    table_changes: list[tuple[tuple[int, int], ...]] = []
    for number, scenario in enumerate(scenarios):
        pristine = TABLE_COPIES + scenario.root - MODEL_BASE
        for spec in scenario.spec.accesses:
            case = plan_case(len(planned), number, scenario, spec, memory, pristine)
            if case is not None:
                planned.append(case)
                table_changes.append(_table_changes(memory, scenario, copies))
    blob = encode_cases([case.case for case in planned], image[:tables_used])
    run = parse_output(run_probe(probe, blob, image))

    assert len(planned) == len(run.reports)
    for case, changes, report in zip(planned, table_changes, run.reports, strict=True):
        where = f"{case.description}\nin {specs[case.scenario]}"
        assert case.case.satp == report.satp, f"QEMU refused satp: {where}"
        assert case.expected == _observed(case, report), where
        assert changes == report.table_writes, f"A/D write-back differs: {where}"
    final = memory.read_bytes(MODEL_BASE, MODEL_SIZE)
    assert _word_changes(image, final) == run.model_changes, "final memory differs"


# No shrinking: one boot per example makes it slow, and a failure already names the one
# scenario and access that disagree.
_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(_SETTINGS, max_examples=50)
@example(specs=sv57_edge_batch())
@given(specs=batches(modes=(SV57,)))
def test_sv57_walks_agree_with_qemu_7_2(probe: Path, specs: list[ScenarioSpec]) -> None:
    check_batch(probe, specs)


@_SETTINGS
@given(specs=batches(modes=(SV48, SV39)))
def test_sv48_and_sv39_walks_agree_with_qemu_7_2(probe: Path, specs: list[ScenarioSpec]) -> None:
    check_batch(probe, specs)
