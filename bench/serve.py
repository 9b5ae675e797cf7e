"""`vmcore serve` benchmark: the API against the framework's floor, live-push latency, RSS.

Run: ``python -m bench.serve`` (about a minute) or ``python -m bench.serve --quick``.

In one run, side by side: `vmcore serve` (file store, fsync always, rate limit off) and a
bare Starlette "hello" app on uvicorn with the same server settings (the floor: what the
framework costs with no work). The same asyncio + httpx client drives both:

- reads: ``GET /v1/vms`` (16 VMs) against ``GET /hello``, 1 and 16 concurrent clients, in
  five interleaved rounds (ratios per round: min / median / max);
- commands: pause/resume cycles (each client its own VM) against ``POST /hello``;
- live push: 100 SSE clients connected, commands paced (the next once every client has the
  last event); latency from the event's own timestamp (taken in the command, before the
  commit) to its arrival at each client;
- memory: the server's RSS with 1,000 idle SSE clients.

Goals (issue 17): reads >= 0.5x the floor; p99 commit-to-SSE < 50 ms with 100 clients;
RSS < 200 MB with 1,000 idle SSE clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
perf = time.perf_counter
ROUNDS = 5


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hello_server(port: int) -> None:
    """The floor: Starlette + uvicorn with nothing behind the routes."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def hello(request: Request) -> Response:
        return Response(b'{"hello":"world"}', media_type="application/json")

    app = Starlette(routes=[Route("/hello", hello, methods=["GET", "POST"])])
    print(f"listening on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _start(args: list[str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VMCORE_API_TOKEN": ""}
    process = subprocess.Popen(args, cwd=cwd, env=env, text=True, stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL)
    assert process.stderr is not None
    for line in process.stderr:
        if "listening on " in line:
            return process, line.split("listening on ", 1)[1].strip()
    raise SystemExit(f"server did not start: {args}")


async def _wait_ready(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                await client.get(url)
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.05)


def _pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else 0.0


class _Connection:
    """A minimal keep-alive HTTP/1.1 client (a load generator must be cheaper than the
    server it measures; httpx costs more per request than a bare Starlette endpoint)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> _Connection:
        host, port = base.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def request(self, method: str, path: str) -> int:
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
                          "Content-Length: 0\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def _load(base: str, clients: int, requests: int, method: str,
                paths: list[str]) -> tuple[float, float, float]:
    """Requests/s, p50 and p99 latency (ms) of ``clients`` keep-alive clients."""
    latencies: list[float] = []

    async def one(index: int) -> None:
        connection = await _Connection.open(base)
        path = paths[index % len(paths)]
        for n in range(requests):
            target = path.replace("{cmd}", "pause" if n % 2 == 0 else "resume")
            started = perf()
            status = await connection.request(method, target)
            latencies.append(perf() - started)
            if status >= 300:
                raise SystemExit(f"{method} {target}: {status}")
        connection.close()

    started = perf()
    await asyncio.gather(*(one(i) for i in range(clients)))
    elapsed = perf() - started
    return (clients * requests / elapsed, _pct(latencies, 50) * 1000,
            _pct(latencies, 99) * 1000)


async def _push_latency(base: str, listeners: int, commands: int, vm: str) -> list[float]:
    """Seconds from each event's timestamp (taken in the command, before its commit) to its
    arrival at each of ``listeners``. Paced: the next command goes once every listener has
    the previous event, so this is latency, not a queue behind a flood of commands."""
    samples: list[float] = []
    ready = asyncio.Event()
    connected = [0]
    arrived: dict[int, int] = {}
    all_arrived: dict[int, asyncio.Event] = {n: asyncio.Event() for n in range(commands)}

    async def listen() -> None:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET /v1/events/stream?vm={vm}&topic=vm.* HTTP/1.1\r\n"
                     f"Host: {host}\r\n\r\n".encode())
        await writer.drain()
        got = 0
        while got < commands:
            line = await reader.readline()
            if line.startswith(b": connected"):
                connected[0] += 1
                if connected[0] == listeners:
                    ready.set()
            elif line.startswith(b"data: "):
                now = time.time()
                event = json.loads(line[6:])
                stamp = datetime.fromisoformat(event["timestamp"]).timestamp()
                samples.append(max(0.0, now - stamp))
                arrived[got] = arrived.get(got, 0) + 1
                if arrived[got] == listeners:
                    all_arrived[got].set()
                got += 1
        writer.close()

    tasks = [asyncio.create_task(listen()) for _ in range(listeners)]
    await ready.wait()
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for n in range(commands):
            command = "pause" if n % 2 == 0 else "resume"
            (await client.post(f"/v1/vms/{vm}/{command}")).raise_for_status()
            await all_arrived[n].wait()
    await asyncio.gather(*tasks)
    return samples


async def _idle_rss(base: str, pid: int, clients: int) -> tuple[float, float]:
    """Server RSS (MB) before and with ``clients`` idle SSE connections."""
    before = _rss_mb(pid)
    host, port = base.removeprefix("http://").split(":")
    writers = []
    for _ in range(clients):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET /v1/events/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        writers.append((reader, writer))
    for reader, _ in writers:  # every stream is open once its first bytes arrive
        while not (await reader.readline()).startswith(b": connected"):
            pass
    with_clients = _rss_mb(pid)
    for _, writer in writers:
        writer.close()
    return before, with_clients


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(quick: bool, workdir: Path) -> None:
    total = 160 if quick else 1600  # requests per case, shared by clients and rounds
    listeners, pushes, idle = (5, 4, 20) if quick else (100, 100, 1000)
    vmcore, vm_url = _start([sys.executable, "-m", "vmcore", "--store", "file:./store",
                             "serve", "--listen", "127.0.0.1:0", "--rate", "0",
                             "--backlog", "10000"], workdir)
    hello, hello_url = _start([sys.executable, "-m", "bench.serve", "--hello-server",
                               str(_free_port())], ROOT)
    try:
        await _wait_ready(f"{hello_url}/hello")
        async with httpx.AsyncClient(base_url=vm_url, timeout=60) as client:
            for n in range(16):
                (await client.post("/v1/vms", json={"name": f"bench-{n}"})).raise_for_status()
                (await client.post(f"/v1/vms/bench-{n}/start")).raise_for_status()
        print(f"load average: {Path('/proc/loadavg').read_text().strip()}")
        print(f"{'case':<26}{'clients':>8}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
              f"{'floor req/s':>12}{'ratio (min/median/max of rounds)':>34}")
        for clients in (1, 16):
            for name, method, paths in (
                    ("GET /v1/vms (16 VMs)", "GET", ["/v1/vms"]),
                    ("POST pause/resume", "POST",
                     [f"/v1/vms/bench-{n}/{{cmd}}" for n in range(16)])):
                # Interleaved rounds, so both sides see the same machine load.
                ours, floors, ratios = [], [], []
                for _ in range(ROUNDS):
                    mine = await _load(vm_url, clients, total // ROUNDS // clients, method,
                                       paths)
                    floor = await _load(hello_url, clients, total // ROUNDS // clients,
                                        method, ["/hello"])
                    ours.append(mine)
                    floors.append(floor[0])
                    ratios.append(mine[0] / floor[0])
                rate = statistics.median(r[0] for r in ours)
                p50 = statistics.median(r[1] for r in ours)
                p99 = statistics.median(r[2] for r in ours)
                spread = (f"{min(ratios):.2f} / {statistics.median(ratios):.2f}"
                          f" / {max(ratios):.2f}")
                print(f"{name:<26}{clients:>8}{rate:>8.0f}{p50:>8.2f}{p99:>8.2f}"
                      f"{statistics.median(floors):>12.0f}{spread:>34}")
        samples = await _push_latency(vm_url, listeners, pushes, "bench-0")
        print(f"commit-to-SSE, {listeners} SSE clients, {pushes} commands:"
              f" p50 {_pct(samples, 50) * 1000:.1f} ms, p99 {_pct(samples, 99) * 1000:.1f} ms,"
              f" max {max(samples) * 1000:.1f} ms ({len(samples)} deliveries)")
        before, with_idle = await _idle_rss(vm_url, vmcore.pid, idle)
        print(f"server RSS: {before:.0f} MB idle, {with_idle:.0f} MB with {idle} idle"
              " SSE clients")
    finally:
        for process in (vmcore, hello):
            process.send_signal(signal.SIGTERM)
        for process in (vmcore, hello):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--hello-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hello_server:
        hello_server(args.hello_server)
        return
    with tempfile.TemporaryDirectory(prefix="vmcore-bench-serve-") as workdir:
        asyncio.run(run(args.quick, Path(workdir)))


if __name__ == "__main__":
    main()
