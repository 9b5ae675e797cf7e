"""The ServiceManager: states, health, service events, breaker, rate limit, timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vmcore.application.services import (
    CircuitOpen,
    Error,
    HealthCheck,
    RateLimited,
    Restarted,
    ServiceEvent,
    ServiceManager,
    ServicesApi,
    ServiceState,
    Started,
    StateChanged,
    Stopped,
    UnknownService,
    parse_all,
)
from vmcore.application.services.metrics import services_text
from vmcore.bus import FakeClock, UnifiedEventBus
from vmcore.domain.runtime import RuntimeEvent

S = ServiceState


def event(n: int = 0) -> RuntimeEvent:
    return RuntimeEvent("job.done", data={"n": n})


class Flaky:
    """Fails while ``broken``; reports its health from ``healthy``."""

    name = "flaky"

    def __init__(self) -> None:
        self.broken = False
        self.healthy = True
        self.seen: list[int] = []

    def bus_handlers(self) -> dict[str, Any]:
        return {"job.*": self.handle}

    def handle(self, e: RuntimeEvent) -> None:
        if self.broken:
            raise OSError("disk full")
        self.seen.append(e.data["n"])

    def health(self) -> tuple[bool, str]:
        return self.healthy, "ok" if self.healthy else "backlog too long"


def setup(settings: dict[str, Any] | None = None
          ) -> tuple[ServiceManager, UnifiedEventBus, FakeClock, list[ServiceEvent]]:
    clock = FakeClock()
    bus = UnifiedEventBus(clock=clock, latency_sampling=1)
    events: list[ServiceEvent] = []
    bus.subscribe("service.*", events.append)
    return ServiceManager(bus, settings=parse_all(settings)), bus, clock, events


def test_register_start_stop_restart_publish_service_events() -> None:
    manager, _bus, _clock, events = setup()
    manager.register(Flaky())
    manager.stop("flaky")
    manager.restart("flaky")
    assert [
        StateChanged("flaky", 0.0, S.REGISTERED, S.STARTING),
        StateChanged("flaky", 0.0, S.STARTING, S.RUNNING),
        Started("flaky", 0.0),
        StateChanged("flaky", 0.0, S.RUNNING, S.STOPPED),
        Stopped("flaky", 0.0),
        StateChanged("flaky", 0.0, S.STOPPED, S.STARTING),
        StateChanged("flaky", 0.0, S.STARTING, S.RUNNING),
        Started("flaky", 0.0),
        Restarted("flaky", 0.0, restarts=1),
    ] == events


def test_a_stopped_service_hears_nothing() -> None:
    manager, bus, _, _ = setup()
    flaky = manager.register(Flaky())
    bus.publish(event(1))
    manager.stop("flaky")
    bus.publish(event(2))
    assert [1] == flaky.seen


def test_a_service_whose_start_raises_is_failed_and_says_why() -> None:
    class Broken(Flaky):
        name = "broken"

        def start(self) -> None:
            raise RuntimeError("no config")

    manager, _, _, events = setup()
    manager.register(Broken())
    assert S.FAILED == manager.state("broken")
    assert Error("broken", 0.0, "service.start", "RuntimeError", "no config") in events


def test_health_checks_run_on_their_interval_and_degrade_the_service() -> None:
    manager, _, clock, events = setup({"flaky": {"health_interval": 10}})
    flaky = manager.register(Flaky())
    assert 1 == len(manager.check_health())
    flaky.healthy = False
    clock.advance(5)
    assert [] == manager.check_health()  # not due yet
    clock.advance(5)
    assert [HealthCheck("flaky", 10.0, False, "backlog too long")] == manager.check_health()
    assert S.DEGRADED == manager.state("flaky")
    flaky.healthy = True
    manager.check_health(force=True)
    assert S.RUNNING == manager.state("flaky")
    assert StateChanged("flaky", 10.0, S.RUNNING, S.DEGRADED) in events


def test_the_breaker_opens_refuses_to_the_dead_letters_and_redrives_on_close() -> None:
    manager, bus, clock, events = setup(
        {"flaky": {"breaker": {"failure_threshold": 2, "success_threshold": 2, "timeout": 30}}})
    flaky = manager.register(Flaky())
    flaky.broken = True
    for n in range(4):
        bus.publish(event(n))
    supervisor = manager.supervisor("flaky")
    assert ("open", S.DEGRADED) == (supervisor.breaker.state.value, manager.state("flaky"))
    assert [OSError, OSError, CircuitOpen, CircuitOpen] == [
        type(d.error) for d in bus.dead_letters]
    assert 2 == sum(isinstance(e, Error) for e in events)  # refusals raise no Error event
    flaky.broken = False
    clock.advance(30)  # half-open: the next events go through, two successes close it
    bus.publish(event(4))
    bus.publish(event(5))
    assert [4, 5, 2, 3] == flaky.seen  # then the two refused events are redriven
    assert (S.RUNNING, 2) == (manager.state("flaky"), len(bus.dead_letters))
    counts = manager.status("flaky").counts
    assert (4, 2, 2) == (counts["delivered"], counts["failed"], counts["rejected"])


def test_a_closed_breaker_leaves_the_bare_handler_on_the_bus() -> None:
    manager, _bus, _, _ = setup()
    flaky = manager.register(Flaky())
    (subscription,) = manager.supervisor("flaky").subscriptions()
    assert flaky.handle == subscription.handler


def test_a_sync_handler_over_its_rate_is_refused_to_the_dead_letters() -> None:
    manager, bus, clock, _ = setup({"flaky": {"rate_limit": {"capacity": 2, "rate": 1}}})
    flaky = manager.register(Flaky())
    for n in range(3):
        bus.publish(event(n))
    clock.advance(1)
    bus.publish(event(3))
    assert [0, 1, 3] == flaky.seen
    assert [RateLimited] == [type(d.error) for d in bus.dead_letters]
    assert "closed" == manager.status("flaky").breaker


def test_a_hung_async_handler_is_timed_out_and_its_worker_goes_on() -> None:
    class Hangs:
        name = "hangs"

        def __init__(self) -> None:
            self.done: list[int] = []

        def bus_handlers(self) -> dict[str, Any]:
            return {"job.*": self.handle}

        async def handle(self, e: RuntimeEvent) -> None:
            if e.data["n"] == 0:
                await asyncio.Event().wait()  # never set
            self.done.append(e.data["n"])

    async def main() -> tuple[list[int], list[str], dict[str, int]]:
        bus = UnifiedEventBus(workers=1, handler_timeout=0.05)
        manager = ServiceManager(bus)
        hangs = manager.register(Hangs())
        bus.start()
        for n in range(3):
            await bus.publish_async(event(n))
        await bus.join()
        await bus.stop_async()
        return hangs.done, [type(d.error).__name__ for d in bus.dead_letters], \
            manager.status("hangs").counts

    done, letters, counts = asyncio.run(main())
    assert ([1, 2], ["TimeoutError"]) == (done, letters)
    assert (1, 2) == (counts["timeouts"], counts["delivered"])


def test_metrics_and_the_http_api() -> None:
    manager, bus, _, _ = setup()
    flaky = manager.register(Flaky())
    bus.publish(event(1))
    flaky.broken = True
    bus.publish(event(2))
    text = services_text(manager).decode()
    for line in ('vmcore_service_requests_total{service="flaky"} 2.0',
                 'vmcore_service_failures_total{service="flaky"} 1.0',
                 'vmcore_service_success_rate{service="flaky"} 0.5',
                 'vmcore_service_breaker_state{service="flaky"} 0.0',
                 'vmcore_service_errors_total{service="flaky",type="OSError"} 1.0',
                 'vmcore_service_handler_latency_seconds_gcount{service="flaky"} 1.0'):
        assert line in text
    api = ServicesApi(manager)
    assert [("flaky", "running", "closed", 1, 1)] == [
        (s["name"], s["state"], s["breaker"], s["delivered"], s["failed"])
        for s in api.list_services()]
    assert 1 == api.restart("flaky")["restarts"]
    with pytest.raises(UnknownService, match="no domain service named 'nope'"):
        api.restart("nope")


def test_background_health_checks_publish_and_stop() -> None:
    import threading

    bus = UnifiedEventBus()
    checked = threading.Event()
    bus.subscribe("service.health_check", lambda e: checked.set())
    manager = ServiceManager(bus)
    manager.register(Flaky())
    manager.start_health_checks(tick=0.001)
    try:
        assert checked.wait(30)
    finally:
        manager.stop_all()
    assert S.STOPPED == manager.state("flaky")


def test_unregister_and_redrive_every_dead_letter_by_hand() -> None:
    manager, bus, _, _ = setup()
    flaky = manager.register(Flaky())
    flaky.broken = True
    bus.publish(event(1))
    assert 0 == manager.redrive("flaky")  # only refusals by default: this was a failure
    flaky.broken = False
    assert 1 == manager.redrive("flaky", refused_only=False)
    assert [1] == flaky.seen
    manager.unregister("flaky")
    assert ([], []) == (manager.names(), [s.name for s in bus.subscriptions()
                                          if s.name.startswith("flaky")])
