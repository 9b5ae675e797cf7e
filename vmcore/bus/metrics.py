"""Delivery metrics: counters and latency percentiles per subscription and for the bus."""

from __future__ import annotations

from collections import deque

from attrs import frozen

_PERCENTILES = (50, 90, 95, 99)


@frozen
class LatencySummary:
    """Latency percentiles in seconds over the most recent samples."""

    count: int
    p50: float
    p90: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: list[float]) -> LatencySummary:
        if not samples:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0)
        ordered = sorted(samples)
        n = len(ordered)
        p50, p90, p95, p99 = (ordered[min(n - 1, (n * p + 99) // 100 - 1)] for p in _PERCENTILES)
        return cls(n, p50, p90, p95, p99, ordered[-1])


class DeliveryMetrics:
    """Mutable counters of one subscription (or the whole bus); cheap to update.

    Latency samples are kept in a ring of the last ``window`` deliveries.
    """

    __slots__ = ("dead_lettered", "delivered", "failed", "latencies", "retried", "started_at")

    def __init__(self, started_at: float, window: int = 8192) -> None:
        self.delivered = 0
        self.failed = 0
        self.retried = 0
        self.dead_lettered = 0
        self.started_at = started_at
        self.latencies: deque[float] = deque(maxlen=window)

    def absorb(self, other: DeliveryMetrics) -> None:
        """Add ``other``'s counters to these (latency samples are not carried over)."""
        self.delivered += other.delivered
        self.failed += other.failed
        self.retried += other.retried
        self.dead_lettered += other.dead_lettered

    def snapshot(self, now: float, queue_depth: int, uncounted: int = 0) -> MetricsSnapshot:
        """Figures at ``now``; ``uncounted`` deliveries are added (the bus's fast path)."""
        elapsed = now - self.started_at
        delivered = self.delivered + uncounted
        return MetricsSnapshot(
            delivered=delivered,
            failed=self.failed,
            retried=self.retried,
            dead_lettered=self.dead_lettered,
            queue_depth=queue_depth,
            events_per_second=delivered / elapsed if elapsed > 0 else 0.0,
            latency=LatencySummary.of(list(self.latencies)),
        )


@frozen
class MetricsSnapshot:
    """What :meth:`DeliveryMetrics.snapshot` reports.

    ``failed`` counts failed attempts (a retried delivery that finally succeeds still counts
    its failures); ``delivered`` counts successful handler calls, one per event (a batch of
    ``n`` counts ``n``).
    """

    delivered: int
    failed: int
    retried: int
    dead_lettered: int
    queue_depth: int
    events_per_second: float
    latency: LatencySummary


@frozen
class SubscriptionStats:
    id: int
    name: str
    pattern: str
    mode: str
    priority: int
    metrics: MetricsSnapshot
    batch_size: int | None = None


@frozen
class BusStats:
    """Overall figures plus one entry per live subscription."""

    published: int
    unrouted: int
    totals: MetricsSnapshot
    subscriptions: tuple[SubscriptionStats, ...]
    dead_letters: int
    workers: int
