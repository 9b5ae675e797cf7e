"""Services from entry points, from Python and from settings."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from vmcore.application import ConfigurationError
from vmcore.application.services import (
    GROUP,
    Discovered,
    ServiceManager,
    ServiceState,
    discover,
    parse_all,
)
from vmcore.bus import FakeClock, UnifiedEventBus


def entry(name: str, value: str) -> Discovered:
    return Discovered(name, value, "test-dist", EntryPoint(name, value, GROUP))


class Configurable:
    name = "configurable"

    def __init__(self) -> None:
        self.options: dict[str, Any] = {}

    def configure(self, **options: Any) -> None:
        self.options = options

    def bus_handlers(self) -> dict[str, Any]:
        return {"vm.*": lambda event: None}


def manager(settings: dict[str, Any] | None = None) -> ServiceManager:
    return ServiceManager(UnifiedEventBus(clock=FakeClock()), settings=parse_all(settings))


def test_the_built_in_services_are_entry_points_of_vmcore() -> None:
    found = {d.name: d.distribution for d in discover()}
    assert {"lifecycle": "vmcore", "mmu": "vmcore"} == {
        k: v for k, v in found.items() if k in ("lifecycle", "mmu")}


def test_discovered_services_load_unless_disabled() -> None:
    services = manager({"mmu": {"enabled": "false"}})
    loaded = services.load([
        entry("lifecycle", "vmcore_domain_services.lifecycle:LifecycleStatistics"),
        entry("mmu", "vmcore_domain_services.mmu.fleet:MmuFleet"),
        entry("broken", "no_such_module_here:Service"),
    ])
    assert ["lifecycle"] == loaded
    assert ServiceState.RUNNING == services.state("lifecycle")
    assert "disabled" == services.skipped["mmu"]
    assert services.skipped["broken"].startswith("failed to load: ModuleNotFoundError")


def test_an_entry_point_must_build_the_service_it_names() -> None:
    with pytest.raises(ConfigurationError, match="the names must match"):
        manager().load([entry("stats", "vmcore_domain_services.lifecycle:LifecycleStatistics")])


def test_options_from_settings_reach_configure() -> None:
    service = manager({"configurable": {"options": {"path": "x.log"}}}).register(Configurable())
    assert {"path": "x.log"} == service.options


def test_options_for_a_service_without_configure_are_refused() -> None:
    from vmcore_domain_services.lifecycle import LifecycleStatistics

    with pytest.raises(ConfigurationError, match="takes no options"):
        manager({"lifecycle": {"options": {"x": 1}}}).register(LifecycleStatistics())


def test_an_object_without_bus_handlers_is_not_a_service() -> None:
    with pytest.raises(ConfigurationError, match="is not a domain service"):
        manager().register(object())


@pytest.mark.parametrize(("raw", "message"), [
    ({"x": {"colour": 1}}, "unknown setting"),
    ({"x": {"enabled": "maybe"}}, "enabled must be true or false"),
    ({"x": {"breaker": {"failure_threshold": 0}}}, "failure_threshold"),
    ({"x": {"rate_limit": {"capacity": 1}}}, "rate"),
    ({"x": 3}, "must be a mapping"),
])
def test_bad_service_settings_name_the_problem(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_all(raw)
