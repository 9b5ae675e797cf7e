"""The composition root: dependency-injector wiring for stores, bus, services, ControlPlane.

Configuration comes from a dict, the environment (``VMCORE_*``) or a JSON/INI file; the
store is chosen by a ``Selector`` over :data:`vmcore.composition.stores.STORE_KINDS`. Tests override
any provider with a fake (``container.bus.override(providers.Object(fake))``).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dependency_injector import containers, providers

from vmcore.application.control_plane import DEFAULT_SNAPSHOT_INTERVAL, ControlPlane
from vmcore.application.errors import ConfigurationError
from vmcore.composition.stores import DEFAULT_STORE, StoreSpec

if TYPE_CHECKING:  # the bus and the services load at the first published event
    from vmcore.application.services import ServiceRegistry
    from vmcore.bus.core import UnifiedEventBus

DEFAULTS: dict[str, Any] = {
    "store": DEFAULT_STORE,
    "fsync": "always",
    "snapshot_interval": DEFAULT_SNAPSHOT_INTERVAL,
}
ENVIRONMENT = {
    "store": "VMCORE_STORE",
    "fsync": "VMCORE_FSYNC",
    "snapshot_interval": "VMCORE_SNAPSHOT_INTERVAL",
}


def _store_kind(spec: StoreSpec) -> str:
    return spec.kind


def _file_env(spec: StoreSpec, fsync: str) -> dict[str, str]:
    return spec.env(fsync=fsync)


def _database_env(spec: StoreSpec) -> dict[str, str]:
    return spec.env()


def _new_bus() -> UnifiedEventBus:
    from vmcore.bus.core import UnifiedEventBus

    return UnifiedEventBus()


def _registry_with_defaults(bus: UnifiedEventBus) -> ServiceRegistry:
    from vmcore.application.services import ServiceRegistry
    from vmcore_domain_services.lifecycle import LifecycleStatistics

    registry = ServiceRegistry(bus)
    registry.register(LifecycleStatistics())
    return registry


class _PublishToBus:
    """The ControlPlane's publisher: gets the bus, and with it every domain service
    subscribed, at the first event, so that commands that only read never load them."""

    def __init__(self, bus: Callable[[], UnifiedEventBus],
                 services: Callable[[], ServiceRegistry]) -> None:
        self._bus = bus
        self._services = services

    def __call__(self, event: object) -> None:
        self._services()
        self._bus().publish(event)


def _control_plane(env: dict[str, str], snapshot_interval: int,
                   bus: Callable[[], UnifiedEventBus],
                   services: Callable[[], ServiceRegistry]) -> ControlPlane:
    return ControlPlane(env, snapshot_interval=snapshot_interval,
                        publish=_PublishToBus(bus, services))


class Container(containers.DeclarativeContainer):
    """``Container.from_settings(...)`` builds one; ``control_plane()`` is the application."""

    config = providers.Configuration(default=DEFAULTS)

    store_spec = providers.Callable(StoreSpec.parse, config.store)

    store_env = providers.Selector(
        providers.Callable(_store_kind, store_spec),
        file=providers.Callable(_file_env, store_spec, config.fsync),
        sqlite=providers.Callable(_database_env, store_spec),
        postgres=providers.Callable(_database_env, store_spec),
        memory=providers.Callable(_database_env, store_spec),
    )

    bus = providers.Singleton(_new_bus)

    services = providers.Singleton(_registry_with_defaults, bus)

    control_plane = providers.Singleton(
        _control_plane,
        env=store_env,
        snapshot_interval=config.snapshot_interval.as_int(),
        bus=bus.provider,
        services=services.provider,
    )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None = None, *,
                      environ: Mapping[str, str] | None = None,
                      config_file: str | None = None) -> Container:
        """Defaults, then a JSON/INI ``config_file``, then ``VMCORE_*`` variables, then
        ``settings`` (later wins). Raises :class:`ConfigurationError` for bad values."""
        container = cls()
        if config_file:
            _load_file(container, config_file)
        environ = os.environ if environ is None else environ
        container.config.from_dict({key: environ[var] for key, var in ENVIRONMENT.items()
                                    if environ.get(var)})
        container.config.from_dict({k: v for k, v in (settings or {}).items() if v is not None})
        _validate(container.config())
        return container


def _load_file(container: Container, path: str) -> None:
    if not Path(path).is_file():
        raise ConfigurationError(f"config file {path!r} does not exist")
    try:
        if path.endswith(".json"):
            container.config.from_json(path, required=True)
        elif path.endswith(".ini"):
            container.config.from_ini(path, required=True)
            section = container.config.get("vmcore") or {}
            container.config.from_dict(section)
        else:
            raise ConfigurationError(f"config file {path!r}: use a .json or .ini file")
    except (ValueError, TypeError, configparser.Error) as error:
        if isinstance(error, ConfigurationError):
            raise
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise ConfigurationError(f"config file {path!r} is not valid: {reason}") from None
    if not isinstance(container.config(), Mapping):
        raise ConfigurationError(f"config file {path!r} must hold an object of settings")


def _validate(config: Mapping[str, Any]) -> None:
    StoreSpec.parse(str(config.get("store")))
    if str(config.get("fsync")) not in ("always", "group", "none"):
        raise ConfigurationError(
            f"unknown fsync policy {config.get('fsync')!r}: use always, group or none")
    try:
        interval = int(config.get("snapshot_interval", 0))
    except (TypeError, ValueError):
        interval = -1
    if interval < 0:
        raise ConfigurationError(
            "snapshot interval must be a whole number >= 0,"
            f" got {config.get('snapshot_interval')!r}")
