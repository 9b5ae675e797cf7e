"""Bus service benchmark: `vmcore bus serve` side by side with Redis 7 streams.

Run: ``python -m bench.bus_service`` (a minute or two) or ``--quick`` (seconds).

Both servers run as subprocesses on loopback, started here: the bus service with an in-memory
instance and a persistent (SQLite, WAL, synchronous FULL) one; Redis twice, without
persistence and with ``appendonly yes, appendfsync always``. Clients are asyncio on both
sides (vmcore's ``BusClient``, redis-py's asyncio client), one connection each, each sending
one request and awaiting its answer (no pipelining), with the same JSON payloads: emit_event
vs XADD, then a paged read of everything: poll_events vs XRANGE (100 per page).

Goals (issue 16): memory instance >= 0.5x Redis XADD; persistent instance >= 1x Redis with
appendfsync always; p99 < 5 ms at 16 connections.

With one connection a durable emit cannot share its fsync, so the disk sets the pace: the run
ends with the floors, measured in the same directory: ``fdatasync`` after appending 250 bytes
to a growing file (what Redis's AOF does per write) and after rewriting 5 WAL frames in place
(20 KiB: what one SQLite commit of one event writes here, the WAL being reused after each
checkpoint).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis

from vmcore.bus.client import BusClient

ROOT = Path(__file__).resolve().parents[1]
perf = time.perf_counter


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def payload(n: int) -> dict[str, Any]:
    return {"vm": f"web-{n % 16}", "n": n, "state": "running", "pad": "x" * 100}


class Servers:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.processes: list[subprocess.Popen[bytes]] = []

    def redis(self, durable: bool) -> int:
        port = free_port()
        data = self.work / f"redis-{port}"
        data.mkdir()
        args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                "--dir", str(data), "--protected-mode", "yes"]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if durable else [
            "--appendonly", "no"]
        self.processes.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
        return port

    def bus(self) -> dict[str, str]:
        config = [{"id": "memory", "listen": "127.0.0.1:0", "queue_size": 4096},
                  {"id": "sqlite", "listen": "127.0.0.1:0", "persist": True,
                   "storage_path": str(self.work / "bus.db"), "queue_size": 4096}]
        path = self.work / "buses.json"
        path.write_bytes(orjson.dumps(config))
        process = subprocess.Popen(
            [sys.executable, "-m", "vmcore", "bus", "serve", "--config", str(path)],
            cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.processes.append(process)
        assert process.stdout is not None
        lines = [process.stdout.readline().decode().split() for _ in config]
        return {words[1]: words[-1] for words in lines}

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


async def wait_redis(port: int) -> None:
    for _ in range(200):
        try:
            client = aioredis.Redis(host="127.0.0.1", port=port)
            await client.ping()
            await client.aclose()
            return
        except (ConnectionError, OSError, aioredis.ConnectionError):
            await asyncio.sleep(0.05)
    raise RuntimeError(f"redis on {port} did not start")


Emit = Callable[[int], Awaitable[Any]]


async def run_writers(emitters: list[Emit], per_connection: int) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def writer(emit: Emit, base: int) -> None:
        for n in range(base, base + per_connection):
            started = perf()
            await emit(n)
            latencies.append(perf() - started)

    started = perf()
    await asyncio.gather(*(writer(e, i * per_connection) for i, e in enumerate(emitters)))
    elapsed = perf() - started
    return len(latencies) / elapsed, latencies


def fdatasync_floor(directory: Path, size: int, grow: bool, count: int = 300) -> float:
    """Writes + fdatasyncs per second: ``size`` bytes appended, or rewritten in place."""
    path = directory / f"floor-{size}-{grow}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    try:
        if not grow:
            os.posix_fallocate(fd, 0, size)
            os.fsync(fd)
        data = b"x" * size
        started = perf()
        for n in range(count):
            os.pwrite(fd, data, n * size if grow else 0)
            os.fdatasync(fd)
        return count / (perf() - started)
    finally:
        os.close(fd)
        path.unlink()


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[int(len(ordered) * 0.99) - 1] * 1000


def _bus_emitter(client: BusClient, topic: str) -> Emit:
    return lambda n: client.emit(topic, payload(n), source_trn="trn:user:bench")


def _redis_emitter(client: aioredis.Redis, stream: str) -> Emit:
    return lambda n: client.xadd(stream, {"payload": orjson.dumps(payload(n)),
                                          "source_trn": "trn:user:bench"})


async def bench_bus(url: str, topic: str, connections: int, count: int
                    ) -> tuple[float, float, float]:
    clients = [await BusClient.connect(url) for _ in range(connections)]
    emitters: list[Emit] = [_bus_emitter(c, topic) for c in clients]
    rate, latencies = await run_writers(emitters, count // connections)
    since, read = 0, 0
    started = perf()
    while True:
        page = await clients[0].poll(topic, since=since, limit=100)
        if not page["events"]:
            break
        read += len(page["events"])
        since = page["next_since"]
    read_rate = read / (perf() - started)
    for client in clients:
        await client.close()
    return rate, p99(latencies), read_rate


async def bench_redis(port: int, stream: str, connections: int, count: int
                      ) -> tuple[float, float, float]:
    clients = [aioredis.Redis(host="127.0.0.1", port=port, single_connection_client=True)
               for _ in range(connections)]
    emitters: list[Emit] = [_redis_emitter(c, stream) for c in clients]
    rate, latencies = await run_writers(emitters, count // connections)
    start, read = "-", 0
    started = perf()
    while True:
        page = await clients[0].xrange(stream, min=start, count=100)
        if not page:
            break
        read += len(page)
        last = page[-1][0]
        assert isinstance(last, bytes)
        millis, seq = last.decode().split("-")
        start = f"{millis}-{int(seq) + 1}"
    read_rate = read / (perf() - started)
    for client in clients:
        await client.aclose()
    return rate, p99(latencies), read_rate


async def main_async(quick: bool, repeats: int) -> None:
    memory_count = 800 if quick else 8000
    durable_count = 160 if quick else 1600
    with tempfile.TemporaryDirectory(prefix="bench-bus-service-") as tmp:
        servers = Servers(Path(tmp))
        try:
            redis_mem, redis_aof = servers.redis(False), servers.redis(True)
            urls = servers.bus()
            await wait_redis(redis_mem)
            await wait_redis(redis_aof)
            rows = []
            for label, url, port, count in (
                    ("memory vs Redis (no persistence)", urls["memory"], redis_mem,
                     memory_count),
                    ("SQLite FULL vs Redis appendfsync always", urls["sqlite"], redis_aof,
                     durable_count)):
                for connections in (1, 16):
                    results: dict[str, list[tuple[float, float, float]]] = {"bus": [],
                                                                            "redis": []}
                    for run in range(repeats):
                        name = f"bench.{connections}.{run}"
                        results["bus"].append(await bench_bus(url, name, connections, count))
                        results["redis"].append(await bench_redis(port, name, connections,
                                                                  count))
                    rows.append((label, connections, results))
            floors = (fdatasync_floor(Path(tmp), 250, grow=True),
                      fdatasync_floor(Path(tmp), 5 * (4096 + 24), grow=False))
        finally:
            servers.stop()
    print(f"loadavg: {Path('/proc/loadavg').read_text().strip()}  (shared machine)")
    header = (f"{'case':42} {'conn':>4} {'bus emits/s':>12} {'redis/s':>10} {'ratio':>6}"
              f" {'bus p99 ms':>10} {'redis p99':>9} {'read ratio':>10}")
    print(header)
    for label, connections, results in rows:
        bus_rates = [r[0] for r in results["bus"]]
        redis_rates = [r[0] for r in results["redis"]]
        ratios = sorted(b / r for b, r in zip(bus_rates, redis_rates, strict=True))
        read = statistics.median(b[2] / r[2] for b, r in zip(results["bus"], results["redis"],
                                                           strict=True))
        print(f"{label:42} {connections:>4} {statistics.median(bus_rates):>12,.0f}"
              f" {statistics.median(redis_rates):>10,.0f}"
              f" {statistics.median(ratios):>5.2f}x"
              f" {statistics.median(r[1] for r in results['bus']):>10.2f}"
              f" {statistics.median(r[1] for r in results['redis']):>9.2f}"
              f" {read:>9.2f}x")
        print(f"{'':42} {'':>4} emit ratio min/median/max over {len(ratios)} runs:"
              f" {ratios[0]:.2f}/{statistics.median(ratios):.2f}/{ratios[-1]:.2f}")
    print(f"disk floor, one writer: append 250 B + fdatasync {floors[0]:,.0f}/s;"
          f" rewrite 20 KiB + fdatasync {floors[1]:,.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main_async(args.quick, 1 if args.quick else args.repeats))


if __name__ == "__main__":
    main()
