"""Forward debugging with real `gdb-multiarch` (batch mode) against `vmcore run --gdb`."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
from pathlib import Path

from tests.e2e.cli_runner import vmcore
from tests.e2e.gdb_session import COUNTER, TIMEOUT, gdb, gdb_command, register, symbol, vmcore_gdb

BUMP = symbol("bump")
STORE = BUMP + 12
"""bump(): ``sd a4,0(a5)`` writes ``counter`` (gdb steps over it after the stop)."""


def history(tmp_path: Path) -> list[str]:
    result = vmcore("--store", f"file:{tmp_path / 'store'}", "vm", "history", "debugged",
                    "--json", cwd=tmp_path)
    return [event["topic"] for event in json.loads(result.stdout)]


def test_break_on_a_c_function_inspect_set_a_global_finish_and_run_to_exit(
        tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path) as server:
        out = gdb(server.port, [
            "break bump", "continue", "info registers", "x/8i $pc", "print counter",
            "set var counter = 100", "print counter", "finish", "delete", "continue"])
        code = server.finish()
    assert "Breakpoint 1, bump (step=step@entry=1) at counter.c:9" in out, out
    assert [BUMP] == register(out, "pc")
    assert [1] == register(out, "a0")
    # gdb lists x1..x31 and pc (not x0)
    assert 32 == len(re.findall(r"^(ra|sp|gp|tp|t\d|fp|s\d+|a\d|pc)\s+0x", out, re.M))
    assert f"=> {BUMP:#x} <bump>:\tauipc\ta5,0x0" in out
    assert 8 == len(re.findall(r"^(=>|  ) 0x[0-9a-f]+ <(bump|main)\+?\d*>:", out, re.M))
    assert "$1 = 0" in out and "$2 = 100" in out
    assert "in main () at counter.c:15" in out  # finish returned to the caller
    assert "Value returned is $3 = 101" in out
    # the guest exits with counter & 0x7f = (100 + 55) & 0x7f = 27; gdb prints octal
    assert "[Inferior 1 (Remote target) exited with code 033]" in out, out
    assert 27 == code
    assert "counter 155 total" in server.stdout
    assert ["vm.created", "vm.started", "vm.stopped"] == history(tmp_path)


def test_watch_a_global_stops_at_the_writing_instruction(tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path) as server:
        out = gdb(server.port, ["break main", "continue", "watch counter", "continue",
                                "info registers pc", "continue", "info registers pc",
                                "delete", "continue"])
        code = server.finish()
    assert "Hardware watchpoint 2: counter" in out, out
    assert "Old value = 0\nNew value = 1" in out
    assert "Old value = 1\nNew value = 3" in out
    assert [STORE + 2, STORE + 2] == register(out, "pc")
    assert 55 == code


def test_stepi_walks_the_startup_code_one_instruction_at_a_time(tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path) as server:
        out = gdb(server.port, ["info registers pc"] + ["stepi", "info registers pc"] * 12
                  + ["kill"])
        code = server.finish()
    # _start: auipc, addi, auipc, addi, auipc, addi, then the .bss loop (bgeu, sd, addi, j)
    expected = [0x80000000, 0x80000004, 0x80000008, 0x8000000C, 0x80000010, 0x80000014,
                0x80000018, 0x8000001C, 0x80000020, 0x80000022, 0x80000018, 0x8000001C,
                0x80000020]
    assert expected == register(out, "pc"), out
    assert 1 == code
    assert "killed by the debugger" in server.stderr


def test_ctrl_c_interrupts_a_running_guest(tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path) as server:
        process = subprocess.Popen(
            gdb_command(server.port, ["break main", "continue", "set var spin = 1", "continue",
                                      "print spin", "set var spin = 0", "delete", "continue"]),
            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert server.process.stdout is not None
        # the guest says so on its console when it starts spinning (until interrupted)
        assert "spinning\n" == server.process.stdout.readline()
        process.send_signal(signal.SIGINT)  # gdb turns it into 0x03 on the wire
        out, _ = process.communicate(timeout=TIMEOUT)
        code = server.finish()
    assert "Program received signal SIGINT, Interrupt." in out, out
    assert "$1 = 1" in out
    assert "[Inferior 1 (Remote target) exited with code 067]" in out
    assert 55 == code


def test_detach_lets_the_guest_run_on_to_its_end(tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path) as server:
        out = gdb(server.port, ["break bump", "continue", "detach"])
        code = server.finish()
    assert "[Inferior 1 (Remote target) detached]" in out, out
    assert 55 == code
    assert "counter 55 total 220\n" == server.stdout
    assert ["vm.created", "vm.started", "vm.stopped"] == history(tmp_path)


def test_stepi_over_a_watched_store_reports_the_watchpoint(tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path) as server:
        out = gdb(server.port, [f"break *{STORE:#x}", "continue", "watch counter", "stepi",
                                "info registers pc", "kill"])
        server.finish()
    assert "Old value = 0\nNew value = 1" in out, out
    assert [STORE + 2] == register(out, "pc")


def test_user_mistakes_are_one_line_and_create_no_vm(tmp_path: Path) -> None:
    store = ["--store", f"file:{tmp_path / 'store'}"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = {
            "nonsense": "vmcore: error: --gdb wants HOST:PORT, got 'nonsense'",
            f"127.0.0.1:{port}": f"vmcore: error: cannot serve gdb on 127.0.0.1:{port}:"
                                 " Address already in use",
        }
        for address, message in cases.items():
            result = vmcore(*store, "run", "--gdb", address, str(COUNTER), cwd=tmp_path)
            assert (1, message) == (result.returncode, result.stderr.strip())
    result = vmcore(*store, "run", "--gdb", "127.0.0.1:0", "--gdb-snapshot-interval", "0",
                    str(COUNTER), cwd=tmp_path)
    assert (2, "vmcore: error: run: argument --gdb-snapshot-interval: must be 1 or more,"
               " got 0 (see vmcore run --help)") == (
        result.returncode, result.stderr.strip())
    listed = vmcore(*store, "vm", "list", "--json", cwd=tmp_path)
    assert [] == json.loads(listed.stdout)
