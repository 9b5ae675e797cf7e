"""docs/debugging.md's worked session: its gdb commands run against `vmcore run --gdb`, and
the transcript lines it shows come out, in order."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.cli_runner import ROOT
from tests.e2e.gdb_session import gdb, vmcore_gdb

DOC = ROOT / "docs" / "debugging.md"


def block(kind: str) -> list[str]:
    match = re.search(rf"^```{kind}\n(.*?)^```", DOC.read_text(), re.S | re.M)
    assert match is not None, f"docs/debugging.md has no {kind} block"
    return [line for line in match[1].splitlines() if line.strip()]


def test_the_worked_session_runs_as_documented(tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path) as server:
        out = gdb(server.port, block("gdb"))
        code = server.finish()
    lines = out.splitlines()
    position = 0
    for expected in block("text"):
        assert expected in lines[position:], f"{expected!r} not found after line {position}:\n{out}"
        position = lines.index(expected, position) + 1
    assert 55 == code
    assert "counter 55 total 220\n" == server.stdout
