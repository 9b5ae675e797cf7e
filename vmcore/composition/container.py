"""The composition root: dependency-injector wiring for stores, bus, services, ControlPlane.

Configuration comes from a dict, the environment (``VMCORE_*``, read through the container:
``from_settings(environ=...)``) or a JSON/INI file. The bus is a ``Resource`` built from
validated :class:`BusSettings` and started on init; the ServiceManager is a ``Resource``
that loads every discovered, enabled domain service. Both are created at the first event the
ControlPlane publishes (or when a caller asks for them), so commands that only read never
load them. ``container.shutdown_resources()`` stops both. Tests override any provider with a
fake (``container.bus.override(providers.Object(fake))``).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmcore.application.control_plane import DEFAULT_SNAPSHOT_INTERVAL, ControlPlane
from vmcore.application.errors import ConfigurationError
from vmcore.composition.lean_imports import web_hooks_hidden
from vmcore.composition.settings import BUS_DEFAULTS, BUS_ENVIRONMENT, BusSettings
from vmcore.composition.stores import DEFAULT_STORE, StoreSpec

with web_hooks_hidden():
    from dependency_injector import containers, providers

if TYPE_CHECKING:  # the bus and the services load at the first published event
    from vmcore.application.services import ServiceManager
    from vmcore.bus.core import UnifiedEventBus

DEFAULTS: dict[str, Any] = {
    "store": DEFAULT_STORE,
    "fsync": "always",
    "snapshot_interval": DEFAULT_SNAPSHOT_INTERVAL,
    "bus": dict(BUS_DEFAULTS),
    "services": {},
}
ENVIRONMENT = {
    "store": "VMCORE_STORE",
    "fsync": "VMCORE_FSYNC",
    "snapshot_interval": "VMCORE_SNAPSHOT_INTERVAL",
}
"""Top-level settings and the variables that set them (``bus.*`` come from BUS_ENVIRONMENT)."""
SERVICES_DISABLED = "VMCORE_SERVICES_DISABLED"
"""A comma-separated list of service names to leave out."""


def _store_env(spec: StoreSpec, fsync: str, environ: Mapping[str, str]) -> dict[str, str]:
    return spec.env(environ=environ, fsync=fsync)


def _bus(settings: BusSettings) -> Iterator[UnifiedEventBus]:
    from vmcore.bus.core import UnifiedEventBus

    bus = UnifiedEventBus(
        workers=settings.workers,
        max_queue_size=settings.max_queue_size,
        overflow="block" if settings.overflow == "block" else "raise",
        dead_letter_limit=settings.dead_letter_limit,
        latency_sampling=settings.latency_sampling,
        handler_timeout=settings.handler_timeout,
        default_retry=settings.retry_policy(),
    )
    bus.start()
    try:
        yield bus
    finally:
        bus.stop()


def _services(bus: UnifiedEventBus, raw: Any) -> Iterator[ServiceManager]:
    from vmcore.application.services import ServiceManager, discover, parse_all

    manager = ServiceManager(bus, settings=parse_all(raw))
    manager.load(discover())
    try:
        yield manager
    finally:
        manager.stop_all()


class _PublishToBus:
    """The ControlPlane's publisher. At the first event it builds the bus and the
    ServiceManager (every enabled domain service subscribed and started, durable ones
    following this ControlPlane), so that commands that only read never load them."""

    def __init__(self, bus: Callable[[], UnifiedEventBus],
                 services: Callable[[], ServiceManager | None]) -> None:
        self._bus = bus
        self._services = services
        self._publish: Callable[[object], None] | None = None
        self.control_plane: ControlPlane | None = None

    def connect(self) -> UnifiedEventBus:
        """The bus, with every enabled service subscribed and started (once)."""
        bus = self._bus()
        if self._publish is None:
            bus.durable_source = self.control_plane
            services = self._services()
            if services is not None:
                services.start_all()
            self._publish = bus.publish_committed
        return bus

    def __call__(self, event: object) -> None:
        if self._publish is None:
            self.connect()
        assert self._publish is not None
        self._publish(event)


def _control_plane(env: dict[str, str], snapshot_interval: int,
                   publisher: _PublishToBus) -> ControlPlane:
    control_plane = ControlPlane(env, snapshot_interval=snapshot_interval, publish=publisher)
    publisher.control_plane = control_plane
    return control_plane


class Container(containers.DeclarativeContainer):
    """``Container.from_settings(...)`` builds one; ``control_plane()`` is the application."""

    config = providers.Configuration(default=DEFAULTS)
    environ = providers.Object(os.environ)

    store_spec = providers.Callable(StoreSpec.parse, config.store)
    store_env = providers.Callable(_store_env, store_spec, config.fsync, environ)

    bus_settings = providers.Callable(BusSettings.parse, config.bus)
    bus = providers.Resource(_bus, bus_settings)

    services = providers.Resource(_services, bus, config.services)

    # ``publisher().connect()`` starts the bus and the services now (servers and guest runs
    # do, so that service state and durable catch-up do not wait for the first command).
    publisher = providers.Singleton(_PublishToBus, bus.provider, services.provider)

    control_plane = providers.Singleton(
        _control_plane,
        env=store_env,
        snapshot_interval=config.snapshot_interval.as_int(),
        publisher=publisher,
    )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None = None, *,
                      environ: Mapping[str, str] | None = None,
                      config_file: str | None = None) -> Container:
        """Defaults, then a JSON/INI ``config_file``, then ``VMCORE_*`` variables, then
        ``settings`` (later wins). Raises :class:`ConfigurationError` for bad values."""
        container = cls()
        environ = os.environ if environ is None else environ
        container.environ.override(providers.Object(environ))
        if config_file:
            _load_file(container, config_file)
        container.config.from_dict(_from_environment(environ))
        container.config.from_dict({k: v for k, v in (settings or {}).items() if v is not None})
        _validate(container.config())
        return container


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    nested: dict[str, Any] = {key: environ[var] for key, var in ENVIRONMENT.items()
                              if environ.get(var)}
    bus = {key: environ[var] for key, var in BUS_ENVIRONMENT.items() if environ.get(var)}
    if bus:
        nested["bus"] = bus
    for name in filter(None, (n.strip() for n in environ.get(SERVICES_DISABLED, "").split(","))):
        nested.setdefault("services", {})[name] = {"enabled": False}
    return nested


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
    BusSettings.parse(config.get("bus"))
    services = config.get("services")
    if services is None or services == {}:
        return  # nothing to check (and the services' settings module stays unloaded)
    from vmcore.application.services.settings import parse_all

    parse_all(services)
