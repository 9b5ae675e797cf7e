"""Reverse execution with real gdb: `reverse-stepi` retraces the `stepi` trace exactly
(every register), `reverse-continue` returns to the previous breakpoint hit, and the start
of the recorded history is reported as such."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.gdb_session import COUNTER, gdb, vmcore_gdb

STEPS = 60
REGISTERS = re.compile(r"^(ra|sp|gp|tp|t\d|fp|s\d+|a\d|pc)\s+(0x[0-9a-f]+)", re.M)


def states(output: str) -> list[list[tuple[str, str]]]:
    """The register dumps in gdb's output, one list per `info registers`."""
    dumps: list[list[tuple[str, str]]] = []
    for name, value in REGISTERS.findall(output):
        if name == "ra":
            dumps.append([])
        dumps[-1].append((name, value))
    return dumps


def test_reverse_stepi_retraces_the_forward_trace(tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path, COUNTER, "--gdb-snapshot-interval", "7") as server:
        commands = ["break bump", "continue", "delete", "info registers"]
        commands += ["stepi", "info registers"] * STEPS
        commands += ["reverse-stepi", "info registers"] * STEPS
        out = gdb(server.port, [*commands, "kill"])
        server.finish()
    dumps = states(out)
    assert 2 * STEPS + 1 == len(dumps), out[-2000:]
    forward, backward = dumps[:STEPS + 1], dumps[STEPS:]
    assert forward[::-1] == backward
    assert len({tuple(d) for d in forward}) == STEPS + 1  # every step changed something


def test_reverse_continue_returns_to_the_previous_breakpoint_hits(tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path, COUNTER, "--gdb-snapshot-interval", "50") as server:
        out = gdb(server.port, ["break bump", "continue", "print counter", "continue",
                                "print counter", "continue", "print counter",
                                "reverse-continue", "print counter", "info registers a0",
                                "reverse-continue", "print counter", "info registers a0",
                                "reverse-continue", "info registers pc", "continue",
                                "print counter", "kill"])
        server.finish()
    assert ["0", "1", "3", "1", "0", "0"] == re.findall(r"^\$\d+ = (\d+)", out, re.M), out
    assert ["0x2", "0x1"] == re.findall(r"^a0\s+(0x[0-9a-f]+)", out, re.M)
    assert "No more reverse-execution history." in out
    assert re.search(r"^pc\s+0x80000000\s", out, re.M)
