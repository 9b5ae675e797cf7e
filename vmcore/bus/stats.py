"""Assembling :class:`BusStats` from the live subscriptions, the retired ones and the pool."""

from __future__ import annotations

from collections.abc import Sequence

from vmcore.bus.metrics import BusStats, DeliveryMetrics, SubscriptionStats
from vmcore.bus.subscription import Mode, Subscription
from vmcore.bus.workers import WorkerPool


def collect_stats(
    subscriptions: Sequence[Subscription],
    *,
    retired: DeliveryMetrics,
    pool: WorkerPool,
    published: int,
    unrouted: int,
    dead_letters: int,
    now: float,
) -> BusStats:
    """Per-subscription snapshots plus totals (retired subscriptions' counters included)."""
    totals = DeliveryMetrics(retired.started_at, window=1 << 20)
    totals.absorb(retired)
    per: list[SubscriptionStats] = []
    depth = sum(pool.depth(w) for w in range(pool.workers))
    for s in subscriptions:
        queued = s.mode is Mode.ASYNC or s.is_coroutine
        own_depth = s.queue_depth() + (pool.depth(s.worker) if queued else 0)
        per.append(
            SubscriptionStats(
                id=s.id,
                name=s.name,
                pattern=s.pattern,
                mode=s.mode.value,
                priority=s.priority,
                metrics=s.metrics.snapshot(now, own_depth, s.delivered() - s.metrics.delivered),
                batch_size=s.batcher.size if s.batcher is not None else None,
            )
        )
        totals.absorb(s.metrics)
        totals.delivered += s.delivered() - s.metrics.delivered
        totals.latencies.extend(s.metrics.latencies)
        depth += s.queue_depth()
    return BusStats(
        published=published,
        unrouted=unrouted,
        totals=totals.snapshot(now, depth),
        subscriptions=tuple(per),
        dead_letters=dead_letters,
        workers=pool.workers,
    )
