"""A table of bad inputs and failing environments, each walked through the real `vmcore`
command (a subprocess): one line naming the problem (or one JSON object with --json), the
documented exit status, never a traceback, never a password."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.cli_runner import vmcore, vmcore_env

SECRET = "s3cret-pw"


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    exit_code: int
    message: str
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None


def _write(name: str, text: str) -> Callable[[Path], None]:
    def setup(workdir: Path) -> None:
        (workdir / name).write_text(text)
    return setup


def _vm_with_recorded_snapshot(workdir: Path) -> None:
    for args in (("vm", "create", "--name", "a"), ("vm", "start", "a"), ("vm", "pause", "a"),
                 ("vm", "snapshot", "a", "s1"), ("vm", "stop", "a")):
        assert 0 == vmcore(*args, cwd=workdir).returncode


UNREACHABLE = f"postgres://admin:{SECRET}@127.0.0.1:1/vmcore"
CASES = {
    "unknown VM": Case(("vm", "start", "nope"), 1, "no VM named or with id 'nope'"),
    "bad size": Case(("vm", "create", "--name", "x", "--memory", "12Q"), 1,
                     "memory size '12Q' is not a size"),
    "huge size": Case(("vm", "create", "--name", "x", "--memory", "100000T"), 1,
                      "memory size '100000T' is too large: at most 16T"),
    "bad arch": Case(("vm", "create", "--name", "x", "--arch", "sparc"), 2,
                     "invalid choice: 'sparc'"),
    "bad name": Case(("vm", "create", "--name", "Bad_Name"), 1, "VM name 'Bad_Name' is not valid"),
    "no vCPUs": Case(("vm", "create", "--name", "x", "--vcpus", "0"), 2, "must be 1 or more"),
    "missing --name": Case(("vm", "create"), 2, "required: --name"),
    "unknown command": Case(("frobnicate",), 2, "invalid choice: 'frobnicate'"),
    "no command": Case((), 2, "required: COMMAND"),
    "bad version": Case(("vm", "show", "x", "--at-version", "zero"), 2, "not a whole number"),
    "not UTF-8": Case(("vm", "show", os.fsdecode(b"\xff")), 2, "is not valid UTF-8 text"),
    "unknown store": Case(("--store", "bogus", "vm", "list"), 1, "unknown store 'bogus'"),
    "unreachable postgres": Case(("--store", UNREACHABLE, "vm", "list"), 1,
                                 "Connection refused"),
    "bad TRN": Case(("events", "--trn", "alice"), 1, "--trn must look like trn:<kind>:<name>"),
    "unknown VM in events": Case(("events", "--vm", "nope"), 1, "no VM named or with id 'nope'"),
    "limit 0": Case(("events", "--limit", "0"), 2, "--limit: must be 1 or more, got 0"),
    "limit -1": Case(("events", "--limit", "-1"), 2, "--limit: must be 1 or more, got -1"),
    "bad time": Case(("events", "--since", "yesterday"), 2, "not an ISO time"),
    "page size 0": Case(("store", "copy", "--to", "sqlite", "--page-size", "0"), 2,
                        "--page-size: must be 1 or more"),
    "copy onto itself": Case(("store", "copy", "--from", "file", "--to", "file"), 1,
                             "--from and --to are the same store"),
    "copy to unreachable": Case(("store", "copy", "--to", UNREACHABLE), 1, "cannot open store"),
    "run without guest": Case(("run",), 1, "needs a GUEST file or --from-snapshot"),
    "missing guest": Case(("run", "nothing.elf"), 1,
                          "cannot load guest 'nothing.elf': no such file"),
    "max instructions 0": Case(("run", "x.elf", "--max-instructions", "0"), 2,
                               "must be 1 or more"),
    "max instructions -5": Case(("run", "x.elf", "--max-instructions", "-5"), 2,
                                "must be 1 or more"),
    "missing machine snapshot": Case(("run", "--from-snapshot", "a", "s1"), 1,
                                     "no machine snapshot", setup=_vm_with_recorded_snapshot),
    "missing config": Case(("--config", "none.json", "vm", "list"), 1,
                           "config file 'none.json' does not exist"),
    "malformed JSON config": Case(("--config", "c.json", "vm", "list"), 1,
                                  "config file 'c.json' is not valid",
                                  setup=_write("c.json", "{bad")),
    "JSON config not an object": Case(("--config", "c.json", "vm", "list"), 1,
                                      "config file 'c.json'", setup=_write("c.json", "[1]")),
    "malformed INI config": Case(("--config", "c.ini", "vm", "list"), 1,
                                 "config file 'c.ini' is not valid", setup=_write("c.ini", "[x")),
    "bad fsync in env": Case(("vm", "list"), 1, "unknown fsync policy",
                             env={"VMCORE_FSYNC": "sometimes"}),
}


def _check_one_line(result: subprocess.CompletedProcess[str], case: Case) -> None:
    assert (case.exit_code, "", 1) == (result.returncode, result.stdout,
                                       len(result.stderr.splitlines())), result.stderr
    assert result.stderr.startswith("vmcore: error: ")
    assert case.message in result.stderr
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr


@pytest.mark.parametrize("name", CASES)
def test_a_bad_input_gets_one_line_and_its_exit_status(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    if case.setup:
        case.setup(tmp_path)
    env = {"POSTGRES_CONNECT_TIMEOUT": "2", **case.env}
    _check_one_line(vmcore(*case.args, cwd=tmp_path, env=env), case)


@pytest.mark.parametrize("name", ["unknown VM", "bad arch", "unreachable postgres",
                                  "malformed JSON config"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_with_json_errors_are_one_json_object(name: str, where: str, tmp_path: Path) -> None:
    case = CASES[name]
    if case.setup:
        case.setup(tmp_path)
    args = ["--json", *case.args] if where == "before" else [*case.args, "--json"]
    result = vmcore(*args, cwd=tmp_path, env={"POSTGRES_CONNECT_TIMEOUT": "2"})
    error = json.loads(result.stdout)["error"]
    assert (case.exit_code, "") == (result.returncode, result.stderr)
    assert ["message", "type"] == sorted(error)
    assert case.message in error["message"]
    assert SECRET not in result.stdout


@pytest.fixture
def locked_store(tmp_path: Path) -> Iterator[Path]:
    """A file store whose writer lock another live process holds."""
    home = tmp_path / ".vmcore"
    home.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom vmcore_event_store.file.writer_lock import"
         f" WriterLock\nWriterLock({str(home)!r}).acquire()\nprint('held', flush=True)\n"
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=vmcore_env())
    assert holder.stdout is not None
    assert "held\n" == holder.stdout.readline()
    yield tmp_path
    holder.kill()
    holder.wait()


def test_a_store_locked_by_another_process_is_one_line(locked_store: Path) -> None:
    result = vmcore("vm", "create", "--name", "a", cwd=locked_store)
    _check_one_line(result, Case((), 1, "is locked for writing by another process"))


def test_a_full_disk_is_one_line(tmp_path: Path) -> None:
    """A real full file system: a 64 KiB tmpfs, filled, in a private mount namespace."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare to mount a private tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (f"mount -t tmpfs -o size=64k tmpfs {disk} || exit 99\n"
              f"dd if=/dev/zero of={disk}/fill bs=4k 2>/dev/null\n"
              f"exec {sys.executable} -m vmcore vm create --name a\n")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                            text=True, timeout=120,
                            env=vmcore_env({"VMCORE_HOME": str(disk / "home")}))
    if result.returncode == 99:
        pytest.skip("this machine does not allow mounting a tmpfs")
    _check_one_line(result, Case((), 1, "no space left on the device"))


def test_ctrl_c_while_waiting_for_postgres_exits_130(tmp_path: Path) -> None:
    """A server that accepts connections and never answers: the command waits in its
    connect; SIGINT then ends it with status 130 and one line."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        dsn = f"postgres://admin:{SECRET}@127.0.0.1:{server.getsockname()[1]}/vmcore"
        process = subprocess.Popen(
            [sys.executable, "-m", "vmcore", "--store", dsn, "vm", "list"], cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=vmcore_env({"POSTGRES_CONNECT_TIMEOUT": "120"}, cwd=tmp_path))
        connection, _ = server.accept()  # the command is now waiting for the server
        with connection:
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=60)
    assert (130, "", ["vmcore: error: interrupted"]) == (
        process.returncode, stdout, stderr.splitlines())


def test_a_torn_tail_is_one_warning_line(tmp_path: Path) -> None:
    assert 0 == vmcore("vm", "create", "--name", "a", cwd=tmp_path).returncode
    segment = sorted((tmp_path / ".vmcore" / "events").iterdir())[-1]
    with segment.open("ab") as log:
        log.write(b"torn-bytes")  # an append cut short
    result = vmcore("vm", "create", "--name", "b", cwd=tmp_path)
    assert 0 == result.returncode, result.stderr
    warnings = result.stderr.splitlines()
    assert 1 == len(warnings), result.stderr
    assert warnings[0].startswith("vmcore: warning: truncated torn tail of ")


def test_json_after_a_store_subcommand_is_accepted(tmp_path: Path) -> None:
    assert 0 == vmcore("vm", "create", "--name", "a", cwd=tmp_path).returncode
    target = f"sqlite:{tmp_path / 'copy.sqlite'}"
    copied = vmcore("store", "copy", "--to", target, "--json", cwd=tmp_path)
    assert (0, "") == (copied.returncode, copied.stderr)
    assert (2, 0) == (json.loads(copied.stdout)["events_copied"],
                      json.loads(copied.stdout)["resumed_after"])
    verified = vmcore("store", "verify", "--to", target, "--json", cwd=tmp_path)
    assert (0, True) == (verified.returncode, json.loads(verified.stdout)["identical"])


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`vmcore info | head -0`: stdout is closed before anything is written."""
    process = subprocess.Popen([sys.executable, "-m", "vmcore", "info"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=vmcore_env(cwd=tmp_path))
    assert process.stdout is not None
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)
    assert (141, "") == (process.returncode, stderr)


@pytest.mark.parametrize(("host", "cause"), [
    (None, "password authentication failed"),  # the real server, a wrong password
    ("nonexistent.invalid", "failed to resolve host"),
])
def test_a_postgres_failure_names_its_real_cause_and_hides_the_password(
        host: str | None, cause: str, tmp_path: Path) -> None:
    if not os.environ.get("POSTGRES_HOST"):
        pytest.fail("needs the PostgreSQL server that `make test` (scripts/with-postgres) starts")
    where = host or f"{os.environ['POSTGRES_HOST']}:{os.environ.get('POSTGRES_PORT', '5432')}"
    dsn = f"postgres://{os.environ['POSTGRES_USER']}:{SECRET}@{where}/vmcore"
    result = vmcore("--store", dsn, "vm", "list", cwd=tmp_path,
                    env={"POSTGRES_PASSWORD": "", "PGPASSWORD": ""})
    _check_one_line(result, Case((), 1, cause))
