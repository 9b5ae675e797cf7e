from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from vmcore.bus import BusCollector, FakeClock, UnifiedEventBus, prometheus_text
from vmcore.domain.runtime import RuntimeEvent


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_text_export_parses_and_matches_the_stats() -> None:
    clock = FakeClock()
    bus = UnifiedEventBus(clock=clock, latency_sampling=1)
    bus.subscribe("vm.*", lambda e: clock.advance(0.002), name="slow")
    bus.subscribe("vm.*", lambda e: 1 / 0, name="broken")
    for _ in range(3):
        bus.publish(RuntimeEvent("vm.started"))
    bus.publish(RuntimeEvent("nobody.listens"))
    samples = _samples(prometheus_text(bus))
    slow = (("mode", "sync"), ("pattern", "vm.*"), ("subscription", "slow"))
    broken = (("mode", "sync"), ("pattern", "vm.*"), ("subscription", "broken"))
    assert (4.0, 1.0, 3.0) == (
        samples[("vmcore_bus_published_total", ())],
        samples[("vmcore_bus_unrouted_total", ())],
        samples[("vmcore_bus_dead_letters", ())],
    )
    assert (3.0, 0.0, 3.0, 3.0) == (
        samples[("vmcore_bus_delivered_total", slow)],
        samples[("vmcore_bus_failed_total", slow)],
        samples[("vmcore_bus_failed_total", broken)],
        samples[("vmcore_bus_dead_lettered_total", broken)],
    )
    p99 = samples[("vmcore_bus_latency_seconds", tuple(sorted((*slow, ("quantile", "0.99")))))]
    assert 0.002 == round(p99, 9)


def test_collector_plugs_into_any_registry() -> None:
    bus = UnifiedEventBus()
    registry = CollectorRegistry()
    registry.register(BusCollector(bus, prefix="edge"))
    bus.publish(RuntimeEvent("x"))
    assert 1.0 == _samples(generate_latest(registry))[("edge_published_total", ())]
