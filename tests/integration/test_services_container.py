"""Domain services through the container: commands never fail after their commit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from vmcore.application.services import CircuitOpen, Error, ServiceState
from vmcore.bus import UnifiedEventBus
from vmcore.composition import Container
from vmcore.domain import VmConfig, VmState


class Failing:
    """A plug-in whose sync and async handlers both raise."""

    name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    def bus_handlers(self) -> dict[str, Any]:
        return {"vm.started": self.on_started, "vm.created": self.on_created}

    def on_started(self, event: Any) -> None:
        self.calls += 1
        raise RuntimeError("sync handler broke")

    async def on_created(self, event: Any) -> None:
        self.calls += 1
        raise ValueError("async handler broke")


@pytest.fixture
def container() -> Iterator[Container]:
    container = Container.from_settings({"store": "memory"}, environ={})
    yield container
    container.shutdown_resources()


def join(bus: UnifiedEventBus) -> None:
    asyncio.run(bus.join())


def test_a_failing_service_never_fails_the_command(container: Container) -> None:
    errors: list[Error] = []
    bus = container.bus()
    bus.subscribe("service.error", errors.append)
    container.services().register(Failing())
    control_plane = container.control_plane()
    vm_id = control_plane.create_vm("web-1", VmConfig())
    control_plane.start_vm(vm_id)
    join(bus)
    assert VmState.RUNNING == control_plane.get_vm(vm_id).state
    letters = {(d.subscription_name, type(d.error).__name__) for d in bus.dead_letters}
    assert {("failing:vm.started", "RuntimeError"), ("failing:vm.created", "ValueError")} == letters
    assert [("failing", "ValueError"), ("failing", "RuntimeError")] == sorted(
        ((e.service, e.error_type) for e in errors), reverse=True)
    assert 0 == control_plane.publish_failures


def test_commands_succeed_after_the_bus_stopped(container: Container) -> None:
    container.services().register(Failing())
    control_plane = container.control_plane()
    container.bus().stop()
    control_plane.create_vm("web-1", VmConfig())
    assert ["BusNotRunning"] == [type(d.error).__name__ for d in container.bus().dead_letters]


def test_an_always_failing_service_opens_its_breaker_while_commands_go_on() -> None:
    container = Container.from_settings(
        {"store": "memory",
         "services": {"failing": {"breaker": {"failure_threshold": 3, "timeout": 3600}}}},
        environ={})
    try:
        services = container.services()
        failing = services.register(Failing())
        control_plane = container.control_plane()
        for index in range(4):
            vm_id = control_plane.create_vm(f"vm-{index}", VmConfig())
            control_plane.start_vm(vm_id)
            join(container.bus())
        assert "open" == services.supervisor("failing").breaker.state.value
        assert ServiceState.DEGRADED == services.state("failing")
        assert 3 == failing.calls  # the breaker stops calling it
        refused = [d for d in container.bus().dead_letters if isinstance(d.error, CircuitOpen)]
        assert 5 == len(refused)
        assert 4 == len(control_plane.list_vms())
    finally:
        container.shutdown_resources()


def test_the_mmu_service_flushes_an_attached_mmu_on_stop(container: Container) -> None:
    from vmcore_domain_services.mmu.service import MmuService

    fleet = container.services()["mmu"]
    control_plane = container.control_plane()
    vm_id = control_plane.create_vm("guest", VmConfig())
    mmu = MmuService(memory=None, vm_id=vm_id)  # type: ignore[arg-type]
    fleet.attach(mmu)
    control_plane.start_vm(vm_id)
    control_plane.stop_vm(vm_id)
    assert 1 == fleet.flushes


class Durable:
    """Asks for durable subscriptions: catches up from its tracked position."""

    name = "durable"
    durable = True

    def __init__(self) -> None:
        self.seen: list[str] = []

    def bus_handlers(self) -> dict[str, Any]:
        return {"vm.created": lambda event: self.seen.append(event.name)}


def test_a_durable_service_catches_up_after_a_restart(tmp_path: Any) -> None:
    def session(names: list[str]) -> list[str]:
        container = Container.from_settings({"store": f"sqlite:{tmp_path}/s.sqlite"},
                                            environ={})
        try:
            service = container.services().register(Durable())
            assert ServiceState.REGISTERED == container.services().state("durable")
            control_plane = container.control_plane()  # starts it: now there is a log
            for name in names:
                control_plane.create_vm(name, VmConfig())
            last = control_plane.recorder.max_notification_id() or 0
            (durable,) = container.services().supervisor("durable").durables.values()
            durable.wait(last)
            return service.seen
        finally:
            container.shutdown_resources()

    assert ["a", "b"] == session(["a", "b"])
    assert ["c"] == session(["c"])  # not a and b again: it resumed at its position
