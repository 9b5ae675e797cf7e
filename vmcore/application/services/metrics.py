"""Prometheus metrics of the supervised services, through prometheus-client.

Everything is read from the supervisors at scrape time, so the bus's hot path pays nothing.
The handler latency histogram is a gauge histogram of the recent window: the bus samples one
delivery in ``latency_sampling`` into a ring per subscription (8192 samples), and the scrape
buckets that window (a cumulative histogram would need a call per delivery).
:func:`services_text` renders the page; ``vmcore serve`` can add
:attr:`ServiceManager.registry` to its ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from vmcore.application.services.manager import ServiceManager

BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}
BUCKETS = (0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


class ServiceCollector(Collector):
    def __init__(self, manager: ServiceManager, prefix: str = "vmcore_service") -> None:
        self.manager = manager
        self.prefix = prefix

    def collect(self) -> Iterator[Metric]:
        p = self.prefix
        families = {
            "requests": CounterMetricFamily(f"{p}_requests", "Events handed to the service's"
                                            " handlers (delivered + failed)", labels=["service"]),
            "failures": CounterMetricFamily(f"{p}_failures", "Failed handler attempts",
                                            labels=["service"]),
            "rejected": CounterMetricFamily(f"{p}_rejected", "Events refused by the breaker or"
                                            " the rate limit", labels=["service"]),
            "timeouts": CounterMetricFamily(f"{p}_timeouts", "Handler attempts timed out",
                                            labels=["service"]),
            "restarts": CounterMetricFamily(f"{p}_restarts", "Restarts", labels=["service"]),
        }
        success = GaugeMetricFamily(f"{p}_success_rate", "delivered / requests (1 if none)",
                                    labels=["service"])
        breaker = GaugeMetricFamily(f"{p}_breaker_state", "0 closed, 1 half-open, 2 open",
                                    labels=["service"])
        state = GaugeMetricFamily(f"{p}_state", "1 for the service's current state",
                                  labels=["service", "state"])
        errors = CounterMetricFamily(f"{p}_errors", "Handler failures by exception type",
                                     labels=["service", "type"])
        latency = GaugeHistogramMetricFamily(
            f"{p}_handler_latency_seconds", "Handler latency, sampled deliveries of the recent"
            " window", labels=["service"])
        for status in self.manager.statuses():
            c, name = status.counts, [status.name]
            requests = c["delivered"] + c["failed"]
            families["requests"].add_metric(name, requests)
            families["failures"].add_metric(name, c["failed"])
            families["rejected"].add_metric(name, c["rejected"])
            families["timeouts"].add_metric(name, c["timeouts"])
            families["restarts"].add_metric(name, c["restarts"])
            success.add_metric(name, c["delivered"] / requests if requests else 1.0)
            breaker.add_metric(name, BREAKER_VALUES[status.breaker])
            state.add_metric([status.name, status.state], 1)
            for kind, count in sorted(status.errors.items()):
                errors.add_metric([status.name, kind], count)
            samples = self.manager.supervisor(status.name).latencies()
            buckets = [(str(bound), sum(1 for x in samples if x <= bound)) for bound in BUCKETS]
            latency.add_metric(name, [*buckets, ("+Inf", len(samples))], sum(samples))
        yield from families.values()
        yield success
        yield breaker
        yield state
        yield errors
        yield latency


def install(manager: ServiceManager) -> None:
    """Register the counts collector beside the latency histogram in the manager's registry."""
    manager.registry.register(ServiceCollector(manager))


def services_text(manager: ServiceManager) -> bytes:
    """The services' metrics in Prometheus text exposition format."""
    return generate_latest(manager.registry)
