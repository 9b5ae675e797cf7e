"""Prometheus export of the bus's metrics, through prometheus-client.

:class:`BusCollector` reads :meth:`UnifiedEventBus.stats` at scrape time, so the hot path
pays nothing for the export. Register it with any ``CollectorRegistry`` (or use
:func:`prometheus_text` for a one-off text page).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vmcore.bus.core import UnifiedEventBus
from vmcore.bus.metrics import BusStats, LatencySummary

_LABELS = ["subscription", "pattern", "mode"]
_QUANTILES = (("0.5", "p50"), ("0.9", "p90"), ("0.95", "p95"), ("0.99", "p99"))


class BusCollector(Collector):
    """Yields the bus's counters, gauges and latency summaries under ``prefix``."""

    def __init__(self, bus: UnifiedEventBus, prefix: str = "vmcore_bus") -> None:
        self.bus = bus
        self.prefix = prefix

    def collect(self) -> Iterator[Metric]:
        p = self.prefix
        stats = self.bus.stats()
        yield CounterMetricFamily(f"{p}_published", "Events published", value=stats.published)
        yield CounterMetricFamily(
            f"{p}_unrouted", "Events published with no subscriber", value=stats.unrouted
        )
        yield GaugeMetricFamily(f"{p}_dead_letters", "Dead letters held", value=stats.dead_letters)
        yield GaugeMetricFamily(f"{p}_workers", "Asynchronous worker tasks", value=stats.workers)
        counters = {
            name: CounterMetricFamily(f"{p}_{name}", doc, labels=_LABELS)
            for name, doc in (
                ("delivered", "Events handled successfully"),
                ("failed", "Failed handler attempts"),
                ("retried", "Handler retries"),
                ("dead_lettered", "Events sent to the dead-letter queue"),
            )
        }
        depth = GaugeMetricFamily(f"{p}_queue_depth", "Events waiting", labels=_LABELS)
        rate = GaugeMetricFamily(f"{p}_events_per_second", "Delivery rate", labels=_LABELS)
        latency = Metric(
            f"{p}_latency_seconds", "Publish-to-handled latency, recent window", "summary"
        )
        worst = GaugeMetricFamily(
            f"{p}_latency_max_seconds", "Slowest delivery in the recent window", labels=_LABELS
        )
        yield from self._errors(stats)
        for s in stats.subscriptions:
            labels = [s.name, s.pattern, s.mode]
            m = s.metrics
            for name, family in counters.items():
                family.add_metric(labels, getattr(m, name))
            depth.add_metric(labels, m.queue_depth)
            rate.add_metric(labels, m.events_per_second)
            _add_summary(latency, dict(zip(_LABELS, labels, strict=True)), m.latency)
            worst.add_metric(labels, m.latency.max)
        yield from counters.values()
        yield depth
        yield rate
        yield latency
        yield worst


    def _errors(self, stats: BusStats) -> Iterator[Metric]:
        """Seed 000's figures we lacked: error rate, average latency, timeouts, errors by
        type (failed attempts by exception class)."""
        p = self.prefix
        subscriptions = self.bus.subscriptions()
        delivered = sum(s.metrics.delivered for s in stats.subscriptions)
        failed = sum(s.metrics.failed for s in stats.subscriptions)
        yield GaugeMetricFamily(f"{p}_error_rate", "Failed attempts / (delivered + failed)",
                                value=failed / (delivered + failed) if delivered + failed else 0.0)
        samples = [x for s in subscriptions for x in list(s.metrics.latencies)]
        yield GaugeMetricFamily(f"{p}_latency_average_seconds",
                                "Mean latency of the sampled deliveries in the recent window",
                                value=sum(samples) / len(samples) if samples else 0.0)
        yield CounterMetricFamily(f"{p}_timeouts", "Handler attempts cancelled by their timeout",
                                  value=sum(s.timeouts for s in subscriptions))
        by_type = CounterMetricFamily(f"{p}_errors", "Failed attempts by exception type",
                                      labels=["type"])
        totals: dict[str, int] = {}
        for s in subscriptions:
            for kind, count in s.errors.items():
                totals[kind] = totals.get(kind, 0) + count
        for kind, count in sorted(totals.items()):
            by_type.add_metric([kind], count)
        yield by_type


def _add_summary(metric: Metric, labels: dict[str, str], summary: LatencySummary) -> None:
    """Quantiles only: they cover a sliding window, so a cumulative _sum/_count would lie."""
    for quantile, attr in _QUANTILES:
        value = getattr(summary, attr)
        metric.add_sample(metric.name, {**labels, "quantile": quantile}, value)


def prometheus_text(bus: UnifiedEventBus, prefix: str = "vmcore_bus") -> bytes:
    """The bus's metrics in Prometheus text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BusCollector(bus, prefix))
    return generate_latest(registry)
