"""Bus benchmark: vmcore's bus side by side with pyee, blinker, asyncio queues and a plain loop.

Run: ``python -m bench.bus`` (about two minutes) or ``python -m bench.bus --quick`` (seconds).
Under ``scripts/with-postgres`` the durable section also measures PostgreSQL.

Every contender runs in the same process, interleaved, ``--repeats`` times; the tables show
medians and ratios, because absolute rates drift on a shared machine. Seed-000 goals are
checked per row: sync >= 1.0x pyee with p99 < 1 ms; async > 100k events/s with p99 < 10 ms;
batch > 1M events/s with p99 < 100 ms; peak RSS < 100 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import blinker
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.popo import POPOTrackingRecorder
from pyee import EventEmitter
from pyee.asyncio import AsyncIOEventEmitter

from vmcore.bus import Mode, UnifiedEventBus
from vmcore.composition.stores import SQLITE_RECORDER

perf = time.perf_counter
ASYNC_QUEUE = 256
"""Queue bound in the async runs: latency under a flood is about queue depth / drain rate."""


class _Single:
    """A per-event handler (for the unbatched peer): counts, samples latency every 1000."""

    def __init__(self, lat: list[float]) -> None:
        self.lat, self.n = lat, 0

    def __call__(self, e: _Ev) -> None:
        self.n += 1
        if self.n % 1000 == 0:
            self.lat.append(perf() - e.t)


class _Ev:
    __slots__ = ("t",)
    bus_topic = "bench.tick"

    def __init__(self, t: float = 0.0) -> None:
        self.t = t


def _pct(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _row(cells: list[str], widths: list[int]) -> str:
    pairs = enumerate(zip(cells, widths, strict=True))
    return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in pairs)


# -- sync ---------------------------------------------------------------------------------
def _sync_contenders(subs: int) -> dict[str, Callable[[Any], Any]]:
    bus = UnifiedEventBus()
    ee = EventEmitter()
    signal = blinker.Signal()
    handlers: list[Callable[[Any], None]] = [lambda e: None for _ in range(subs)]
    for h in handlers:
        bus.subscribe("bench.tick", h)
        ee.on("tick", h)
        signal.connect(h, weak=False)

    def plain(e: Any) -> None:
        for h in handlers:
            h(e)

    return {
        "plain loop": plain,
        "vmcore publish": bus.publish,
        "pyee emit": lambda e: ee.emit("tick", e),
        "blinker send": signal.send,
    }


def bench_sync(subs: int, n: int, repeats: int) -> dict[str, tuple[float, float]]:
    contenders = _sync_contenders(subs)
    rates: dict[str, list[float]] = {k: [] for k in contenders}
    lats: dict[str, list[float]] = {k: [] for k in contenders}
    ev = _Ev()
    for _ in range(repeats):
        for name, publish in contenders.items():
            t = perf()
            for _ in range(n):
                publish(ev)
            rates[name].append(n / (perf() - t))
            samples = []
            for _ in range(n // 10):
                t = perf()
                publish(ev)
                samples.append(perf() - t)
            lats[name].append(_pct(samples, 99))
    return {k: (statistics.median(rates[k]), statistics.median(lats[k])) for k in contenders}


# -- async --------------------------------------------------------------------------------
async def _async_vmcore(subs: int, n: int, workers: int = 4) -> tuple[float, list[float]]:
    bus = UnifiedEventBus(max_queue_size=ASYNC_QUEUE, workers=workers)
    lat: list[float] = []

    async def handler(e: _Ev) -> None:
        lat.append(perf() - e.t)

    for _ in range(subs):
        bus.subscribe("bench.tick", handler)
    bus.start()
    t = perf()
    for _ in range(n):
        await bus.publish_async(_Ev(perf()))
    await bus.join()
    elapsed = perf() - t
    await bus.stop_async()
    return n / elapsed, lat


async def _async_queues(subs: int, n: int) -> tuple[float, list[float]]:
    lat: list[float] = []
    queues: list[asyncio.Queue[_Ev]] = [asyncio.Queue(ASYNC_QUEUE) for _ in range(subs)]

    async def handler(e: _Ev) -> None:
        lat.append(perf() - e.t)

    async def consume(q: asyncio.Queue[_Ev]) -> None:
        while True:
            e = await q.get()
            await handler(e)
            q.task_done()

    tasks = [asyncio.create_task(consume(q)) for q in queues]
    t = perf()
    for _ in range(n):
        e = _Ev(perf())
        for q in queues:
            await q.put(e)
    for q in queues:
        await q.join()
    elapsed = perf() - t
    for task in tasks:
        task.cancel()
    return n / elapsed, lat


async def _async_pyee(subs: int, n: int) -> tuple[float, list[float]]:
    lat: list[float] = []
    ee = AsyncIOEventEmitter()
    done = asyncio.Event()
    target = n * subs

    def make_handler() -> Callable[[_Ev], Any]:
        async def handler(e: _Ev) -> None:  # one function per subscriber: pyee dedups
            lat.append(perf() - e.t)
            if len(lat) == target:
                done.set()

        return handler

    for _ in range(subs):
        ee.on("tick", make_handler())
    t = perf()
    for i in range(n):
        ee.emit("tick", _Ev(perf()))
        if i % 1000 == 999:
            await asyncio.sleep(0)
    await done.wait()
    return n / (perf() - t), lat


def bench_async(subs: int, n: int, repeats: int) -> dict[str, tuple[float, float]]:
    contenders = {
        "asyncio.Queue per sub": _async_queues,
        "vmcore publish_async": _async_vmcore,
        "vmcore, 1 worker": lambda subs, n: _async_vmcore(subs, n, workers=1),
        "pyee AsyncIOEventEmitter": _async_pyee,
    }
    rates: dict[str, list[float]] = {k: [] for k in contenders}
    p99s: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            rate, lat = asyncio.run(run(subs, n))
            rates[name].append(rate)
            p99s[name].append(_pct(lat, 99))
    return {k: (statistics.median(rates[k]), statistics.median(p99s[k])) for k in contenders}


# -- batch --------------------------------------------------------------------------------
def bench_batch(subs: int, n: int, chunk: int, repeats: int) -> dict[str, tuple[float, float]]:
    lat: list[float] = []
    count = [0]

    def handler(batch: list[_Ev]) -> None:
        count[0] += len(batch)
        lat.append(perf() - batch[0].t)

    bus = UnifiedEventBus()
    for _ in range(subs):
        bus.subscribe("bench.tick", handler, mode=Mode.BATCH, batch_size=chunk)
    adaptive = UnifiedEventBus()
    for _ in range(subs):
        adaptive.subscribe(
            "bench.tick", handler, mode=Mode.ADAPTIVE, batch_size=chunk, target_latency=0.05
        )
    handlers = [handler] * subs

    def plain(events: list[_Ev]) -> None:
        for h in handlers:
            h(events)

    ee = EventEmitter()
    singles = [_Single(lat) for _ in range(subs)]
    for single in singles:
        ee.on("tick", single)

    def pyee_each(events: list[_Ev]) -> None:
        for e in events:
            ee.emit("tick", e)

    contenders: dict[str, Callable[[list[_Ev]], None]] = {
        "pyee emit, per event": pyee_each,
        "vmcore publish_batch": bus.publish_batch,
        "vmcore adaptive": adaptive.publish_batch,
        "plain loop (lists)": plain,
    }
    rates: dict[str, list[float]] = {k: [] for k in contenders}
    p99s: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(repeats):
        for name, publish in contenders.items():
            lat.clear()
            t = perf()
            for _ in range(n // chunk):
                publish([_Ev(perf())] * chunk)  # one stamped event object, chunk times
            bus.flush()  # leftovers are part of the work (and must not wait for the next run)
            adaptive.flush()
            rates[name].append(n / (perf() - t))
            p99s[name].append(_pct(lat, 99))
    bus.stop()
    adaptive.stop()
    return {k: (statistics.median(rates[k]), statistics.median(p99s[k])) for k in contenders}


# -- durable ------------------------------------------------------------------------------
class Meter(Aggregate):
    class Ticked(Aggregate.Event):
        bus_topic: ClassVar[str] = "meter.ticked"
        n: int

    @event("Created")
    def __init__(self) -> None:
        self.n = 0

    @event(Ticked)
    def tick(self, n: int) -> None:
        self.n = n


def _stores(tmp: Path) -> dict[str, dict[str, str]]:
    stores = {
        "sqlite": {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp / "a.db"),
                   "APPLICATION_RECORDER_TOPIC": SQLITE_RECORDER},
    }
    try:
        import vmcore_event_store.file  # noqa: F401
    except ImportError:
        pass
    else:
        (tmp / "fs").mkdir()
        stores["file"] = {
            "PERSISTENCE_MODULE": "vmcore_event_store.file",
            "VMCORE_FILE_STORE_PATH": str(tmp / "fs"),
        }
    if os.environ.get("POSTGRES_HOST"):
        env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_SCHEMA": "public"}
        for key in ("HOST", "PORT", "USER", "PASSWORD", "DBNAME"):
            env[f"POSTGRES_{key}"] = os.environ[f"POSTGRES_{key}"]
        stores["postgres"] = env
    return stores


class BenchDurableApp(Application[UUID]):
    pass


class _Stamp:
    """Records when the durable handler ran and signals the waiting publisher."""

    def __init__(self, seen: threading.Event, stamp: list[float]) -> None:
        self.seen, self.stamp = seen, stamp

    def __call__(self, e: Any) -> None:
        self.stamp[0] = perf()
        self.seen.set()


def bench_durable(events: int, pings: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        for store, env in _stores(Path(tmpdir)).items():
            app = BenchDurableApp(env=env)
            meter = Meter()
            for start in range(0, events, 100):
                for i in range(start, min(events, start + 100)):
                    meter.tick(i)
                app.save(meter)
            last = app.recorder.max_notification_id() or 0
            row: dict[str, float] = {}
            for label, view, every in (
                ("store view", app.factory.tracking_recorder(), 1),
                ("store view, track_every=100", app.factory.tracking_recorder(), 100),
                ("memory view", POPOTrackingRecorder(), 1),
            ):
                bus = UnifiedEventBus(durable_source=app)
                t = perf()
                durable = bus.subscribe_durable(
                    f"c{len(row)}", lambda e: None, view=view, track_every=every
                )
                durable.wait(last, timeout=600)  # in-process progress signal
                row[f"catch-up {label}, ev/s"] = last / (perf() - t)
                bus.stop()
            bus = UnifiedEventBus(durable_source=app)
            seen, stamp = threading.Event(), [0.0]
            bus.subscribe_durable(
                "live", _Stamp(seen, stamp), ["meter.ticked"], view=POPOTrackingRecorder()
            )
            total: list[float] = []
            commit: list[float] = []
            for i in range(pings):
                seen.clear()
                meter.tick(i)
                t = perf()
                recordings = app.save(meter)
                saved = perf()
                for r in recordings:  # what the ControlPlane does after commit
                    bus.publish(r.domain_event)
                if seen.wait(10):
                    total.append(stamp[0] - t)
                    commit.append(saved - t)
            bus.stop()
            row["save p50 ms"] = _pct(commit, 50) * 1000
            row["save->handler p50 ms"] = _pct(total, 50) * 1000
            row["save->handler p99 ms"] = _pct(total, 99) * 1000
            results[store] = row
            if store == "postgres":
                _drop_postgres_tables(env)
            app.close()
    return results


def _drop_postgres_tables(env: dict[str, str]) -> None:
    import psycopg

    dsn = " ".join(
        f"{k}={env['POSTGRES_' + k.upper()]}" for k in ("host", "port", "user", "password")
    )
    with psycopg.connect(f"{dsn} dbname={env['POSTGRES_DBNAME']}", autocommit=True) as conn:
        for table in ("benchdurableapp_events", "benchdurableapp_tracking"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")


# -- report -------------------------------------------------------------------------------
def _print_table(title: str, rows: dict[str, tuple[float, float]], peer: str) -> None:
    print(f"\n{title}")
    widths = [26, 14, 10, 10]
    print(_row(["contender", "events/s", f"x {peer}", "p99 ms"], widths))
    base = rows[peer][0]
    for name, (rate, p99) in rows.items():
        print(_row([name, f"{rate:,.0f}", f"{rate / base:.2f}", f"{p99 * 1000:.3f}"], widths))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="a reduced run of a few seconds")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    quick = args.quick
    repeats = args.repeats or (2 if quick else 5)
    n_sync = 20_000 if quick else 200_000
    n_async = 5_000 if quick else 100_000
    n_batch = 100_000 if quick else 1_000_000
    print(f"vmcore bus benchmark ({'quick' if quick else 'full'}, median of {repeats})")
    goals: list[str] = []
    for subs in (1, 10):
        sync = bench_sync(subs, n_sync, repeats)
        _print_table(f"sync, {subs} subscriber(s)", sync, "pyee emit")
        ratio = sync["vmcore publish"][0] / sync["pyee emit"][0]
        goals.append(
            f"sync {subs} sub: {ratio:.2f}x pyee (goal >= 1.0), "
            f"p99 {sync['vmcore publish'][1] * 1000:.3f} ms (goal < 1)"
        )
        asy = bench_async(subs, n_async // subs, repeats)
        _print_table(f"async, {subs} subscriber(s)", asy, "asyncio.Queue per sub")
        rate, p99 = asy["vmcore publish_async"]
        goals.append(
            f"async {subs} sub: {rate:,.0f} events/s (goal > 100k), p99 {p99 * 1000:.2f} ms (< 10)"
        )
        bat = bench_batch(subs, n_batch // subs, 1000, repeats)
        _print_table(f"batch, {subs} subscriber(s), 1000 per publish", bat, "pyee emit, per event")
        rate, p99 = bat["vmcore publish_batch"]
        goals.append(
            f"batch {subs} sub: {rate:,.0f} events/s (goal > 1M), p99 {p99 * 1000:.2f} ms (< 100)"
        )
    goals.append(f"peak RSS after in-process loads: {_rss_mb():.1f} MB (goal < 100)")
    durable = bench_durable(300 if quick else 5_000, 20 if quick else 200)
    print("\ndurable subscriptions")
    for store, row in durable.items():
        print(f"  {store}: " + ", ".join(f"{k} {v:,.2f}" for k, v in row.items()))
    print("\ngoals")
    for line in goals:
        print("  " + line)
    print(f"  threads alive at exit: {threading.active_count()}")


if __name__ == "__main__":
    main()
