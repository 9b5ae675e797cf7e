"""The composition root: settings from dict, environment and files; fakes via overrides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from vmcore.application import ConfigurationError
from vmcore.composition import Container
from vmcore.domain import VmConfig


class FakeBus:
    def __init__(self) -> None:
        self.published: list[str] = []
        self.subscribed: list[str] = []
        self.durable_source: Any = None

    def publish_committed(self, event: Any) -> None:
        self.published.append(event.bus_topic)

    def subscribe(self, topic: str, handler: Any, **_: Any) -> str:
        self.subscribed.append(topic)
        return topic

    def unsubscribe(self, subscription_id: Any) -> None:
        self.subscribed.remove(subscription_id)


def test_later_sources_win(tmp_path: Path) -> None:
    config_file = tmp_path / "vmcore.json"
    config_file.write_text(json.dumps({"store": "memory", "snapshot_interval": 7,
                                       "fsync": "group"}))
    container = Container.from_settings({"snapshot_interval": 3}, config_file=str(config_file),
                                        environ={"VMCORE_FSYNC": "none"})
    config = container.config()
    assert {"store": "memory", "fsync": "none", "snapshot_interval": 3} == {
        key: config[key] for key in ("store", "fsync", "snapshot_interval")}
    assert 3 == container.control_plane().snapshot_interval


def test_ini_files_use_a_vmcore_section(tmp_path: Path) -> None:
    config_file = tmp_path / "vmcore.ini"
    config_file.write_text("[vmcore]\nstore = sqlite:" + str(tmp_path / "x.sqlite") + "\n")
    container = Container.from_settings(config_file=str(config_file), environ={})
    assert "eventsourcing.sqlite" == container.store_env()["PERSISTENCE_MODULE"]


def test_the_store_spec_selects_the_persistence_module(tmp_path: Path) -> None:
    expected = {
        f"file:{tmp_path}": "vmcore_event_store.file",
        f"sqlite:{tmp_path}/a.sqlite": "eventsourcing.sqlite",
        "postgres://u:p@127.0.0.1:5432/db": "vmcore_event_store.postgres",
        "memory": "eventsourcing.popo",
    }
    actual = {spec: Container.from_settings({"store": spec}, environ={}).store_env()
              ["PERSISTENCE_MODULE"] for spec in expected}
    assert expected == actual


@pytest.mark.parametrize(("settings", "message"), [
    ({"store": "mongo"}, "unknown store 'mongo'"),
    ({"fsync": "sometimes"}, "unknown fsync policy 'sometimes'"),
    ({"snapshot_interval": -1}, "snapshot interval must be a whole number"),
])
def test_bad_settings_are_refused_with_a_message(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Container.from_settings(settings, environ={})


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        Container.from_settings(config_file=str(tmp_path / "nope.json"), environ={})


def test_a_fake_bus_sees_every_committed_event() -> None:
    container = Container.from_settings({"store": "memory"}, environ={})
    fake = FakeBus()
    container.bus.override(providers.Object(fake))
    container.services.override(providers.Object(None))
    control_plane = container.control_plane()
    control_plane.create_vm("web-1", VmConfig())
    control_plane.start_vm("web-1")
    assert ["vm.created", "vm_name.claimed", "vm.started"] == fake.published


def test_the_built_in_services_are_discovered_and_subscribed() -> None:
    container = Container.from_settings({"store": "memory"}, environ={})
    try:
        services = container.services()
        assert ["lifecycle", "mmu"] == sorted(services.names())
        patterns = {s.pattern for s in container.bus().subscriptions()}
        assert {"vm.*", "vm.stopped"} <= patterns
        control_plane = container.control_plane()
        control_plane.create_vm("web-1", VmConfig())
        control_plane.start_vm("web-1")
        assert {"running": 1} == services["lifecycle"].counts()
    finally:
        container.shutdown_resources()


def test_the_bus_is_built_from_validated_settings_and_started() -> None:
    container = Container.from_settings(
        {"store": "memory", "bus": {"handler_timeout": 2, "retry_attempts": 3}},
        environ={"VMCORE_BUS_WORKERS": "2"})
    try:
        bus = container.bus()
        assert (True, 2, 2.0, 3) == (bus.running, bus.stats().workers, bus.handler_timeout,
                                     bus.default_retry.max_attempts)

        async def handler(event: Any) -> None:
            pass

        sid = bus.subscribe("x", handler)
        bus.reconfigure(handler_timeout=5.0)  # safe at run time: existing defaults follow
        assert 5.0 == bus.subscription(sid).timeout
    finally:
        container.shutdown_resources()
    assert not bus.running


@pytest.mark.parametrize(("settings", "message"), [
    ({"bus": {"workers": 0}}, "bus settings: 'workers' must be >= 1"),
    ({"bus": {"overflow": "drop"}}, "bus settings: 'overflow' must be in"),
    ({"bus": {"latency_sampling": 3}}, "power of two"),
    ({"bus": {"colour": 1}}, "unknown bus setting"),
])
def test_bad_bus_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Container.from_settings(settings, environ={})
