"""A real `vmcore bus serve` subprocess, and a raw-socket JSON-RPC client built on
jsonrpcclient (a PyPI client nobody here wrote) for the requests and answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import jsonrpcclient
import orjson

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 20.0


class BusServer:
    """``config``: the instances (``listen`` defaults to 127.0.0.1:0, a free port)."""

    def __init__(self, config: list[dict[str, Any]], workdir: Path,
                 env: dict[str, str] | None = None) -> None:
        self.config = [{"listen": "127.0.0.1:0", **bus} for bus in config]
        self.workdir = workdir
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)} | (env or {})
        self.path = workdir / "event_buses.json"
        self.process: subprocess.Popen[str] | None = None
        self.addresses: dict[str, tuple[str, int]] = {}

    def start(self) -> BusServer:
        self.path.write_bytes(orjson.dumps(self.config))
        self.stderr = open(self.workdir / "serve.err", "a")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vmcore", "bus", "serve", "--config", str(self.path)],
            cwd=self.workdir, env=self.env, stdout=subprocess.PIPE, stderr=self.stderr,
            text=True)
        lines: list[str] = []
        stdout = self.process.stdout
        assert stdout is not None

        def read() -> None:
            for _ in self.config:
                lines.append(stdout.readline())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(TIMEOUT)
        if len(lines) != len(self.config) or not all(lines):
            self.kill()
            raise AssertionError(f"bus serve did not start: {self.errors()}")
        for line in lines:  # "bus ID listening on tcp://HOST:PORT"
            words = line.split()
            host, port = words[-1].removeprefix("tcp://").rsplit(":", 1)
            self.addresses[words[1]] = (host, int(port))
        return self

    def url(self, bus_id: str) -> str:
        host, port = self.addresses[bus_id]
        return f"tcp://{host}:{port}"

    def client(self, bus_id: str) -> RawClient:
        return RawClient(self.addresses[bus_id])

    def errors(self) -> str:
        return (self.workdir / "serve.err").read_text()[-3000:]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(TIMEOUT)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.process.returncode)

    def __enter__(self) -> BusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.stderr.close()


class RawClient:
    """One TCP connection: lines out, lines in (requests made and answers parsed by
    jsonrpcclient)."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=TIMEOUT)
        self.file = self.sock.makefile("rb")

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, message: Any) -> None:
        self.sock.sendall(orjson.dumps(message) + b"\n")

    def recv(self) -> Any:
        line = self.file.readline()
        if not line:
            raise ConnectionError("closed by the server")
        return orjson.loads(line)

    def closed_by_server(self) -> bool:
        try:
            return self.file.readline() == b""
        except ConnectionError:
            return True

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """The result (an AssertionError carrying the error object otherwise)."""
        request = jsonrpcclient.request_json(method, params=params)
        self.sock.sendall(request.encode() + b"\n")
        while True:
            answer = self.recv()
            if "method" not in answer:  # skip pushed notifications
                break
        parsed = jsonrpcclient.parse(answer)
        if isinstance(parsed, jsonrpcclient.Ok):
            return parsed.result
        raise RpcFailure(parsed.code, parsed.message, parsed.data)

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RpcFailure(AssertionError):
    def __init__(self, code: int, message: str, data: Any) -> None:
        super().__init__(f"{code} {message}: {data}")
        self.code = code
        self.data = data
