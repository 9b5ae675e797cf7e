"""`vmcore serve` as a real subprocess on 127.0.0.1 and a free port, for the e2e tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.cli_runner import vmcore_env

STARTUP_TIMEOUT = 60


class Server:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self.output: list[str] = []
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.output.append(line)

    def terminate(self) -> int:
        """SIGTERM and the exit status."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self._drain.join(timeout=10)
        return code

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=60)
        self._drain.join(timeout=10)


def start_server(*args: str, store: str, cwd: Path, env: dict[str, str] | None = None,
                 listen: str = "127.0.0.1:0") -> Server:
    command = [sys.executable, "-m", "vmcore", "--store", store, "serve", "--listen", listen,
               *args]
    process = subprocess.Popen(command, cwd=cwd, env=vmcore_env(env), text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    lines = []
    timer = threading.Timer(STARTUP_TIMEOUT, process.kill)
    timer.start()
    try:
        for line in process.stderr:
            lines.append(line)
            if "listening on " in line:
                return Server(process, line.split("listening on ", 1)[1].strip())
    finally:
        timer.cancel()
    process.wait()
    raise AssertionError("vmcore serve did not start:\n" + "".join(lines))


@contextmanager
def running_server(*args: str, store: str, cwd: Path, env: dict[str, str] | None = None
                   ) -> Iterator[Server]:
    server = start_server(*args, store=store, cwd=cwd, env=env)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.terminate()


def without_token_env() -> dict[str, str]:
    return {"VMCORE_API_TOKEN": ""} if "VMCORE_API_TOKEN" in os.environ else {}
