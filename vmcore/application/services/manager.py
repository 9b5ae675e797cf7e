"""The ServiceManager (seed 004): registers domain services, supervises them on the bus,
and reports their state changes, health checks and errors there as service events."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from attrs import frozen
from prometheus_client import CollectorRegistry

from vmcore.application.errors import ConfigurationError, VmcoreError
from vmcore.application.services.breaker import BreakerState
from vmcore.application.services.discovery import Discovered
from vmcore.application.services.events import (
    Error,
    HealthCheck,
    Restarted,
    ServiceEvent,
    ServiceState,
    Started,
    StateChanged,
    Stopped,
)
from vmcore.application.services.settings import ServiceSettings
from vmcore.application.services.supervisor import Supervisor
from vmcore.bus import Clock, UnifiedEventBus

_LIVE = (ServiceState.RUNNING, ServiceState.DEGRADED)


class UnknownService(VmcoreError, LookupError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no domain service named {name!r} is registered")


@frozen
class ServiceStatus:
    name: str
    state: str
    breaker: str
    origin: str
    healthy: bool | None
    counts: Mapping[str, int]
    errors: Mapping[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "breaker": self.breaker,
                "origin": self.origin, "healthy": self.healthy, **self.counts,
                "errors": dict(self.errors)}


class ServiceManager:
    """Domain services by name, each with a state, a breaker and counts.

    ``settings`` (by service name) give each service its options and supervision; services
    whose settings say ``enabled: false`` are skipped by :meth:`load`. Service events go to
    ``publish`` (default: the bus's ``publish_committed``, which never raises).
    """

    def __init__(self, bus: UnifiedEventBus, *,
                 settings: Mapping[str, ServiceSettings] | None = None,
                 clock: Clock | None = None,
                 publish: Callable[[ServiceEvent], None] | None = None) -> None:
        self.bus = bus
        self.clock = clock or bus.clock
        self.settings = dict(settings or {})
        self._publish = publish or bus.publish_committed
        self._supervisors: dict[str, Supervisor] = {}
        self.skipped: dict[str, str] = {}
        """Discovered services not loaded, and why (disabled, or failed to load)."""
        self.registry = CollectorRegistry(auto_describe=False)
        """Prometheus registry of the services' metrics (see services/metrics.py)."""
        self._health_stop: threading.Event | None = None
        from vmcore.application.services.metrics import install  # metrics imports us

        install(self)

    # -- registering ------------------------------------------------------------------------
    def register(self, service: Any, *, origin: str = "python", start: bool = True) -> Any:
        """Add ``service`` (options from its settings go to ``service.configure``) and, by
        default, start it: its handlers are subscribed, supervised."""
        name = getattr(service, "name", None)
        if not isinstance(name, str) or not callable(getattr(service, "bus_handlers", None)):
            raise ConfigurationError(f"{service!r} is not a domain service: it needs a 'name'"
                                     " and a 'bus_handlers()' method")
        if name in self._supervisors:
            raise ValueError(f"a domain service named {name!r} is already registered")
        settings = self.settings.get(name, ServiceSettings())
        if settings.options:
            configure = getattr(service, "configure", None)
            if configure is None:
                raise ConfigurationError(f"service {name!r} takes no options (it has no"
                                         " configure method)")
            configure(**settings.options)
        supervisor = Supervisor(service, settings, bus=self.bus, clock=self.clock,
                                emit=self._emit, origin=origin)
        supervisor.on_breaker_change = self._refresh
        self._supervisors[name] = supervisor
        if start:
            self.start(name)
        return service

    def load(self, discovered: Iterable[Discovered]) -> list[str]:
        """Register every discovered service its settings leave enabled; returns their
        names. One that fails to load or build is skipped (see :attr:`skipped`)."""
        loaded = []
        for entry in discovered:
            if entry.name in self._supervisors:
                continue
            if not self.settings.get(entry.name, ServiceSettings()).enabled:
                self.skipped[entry.name] = "disabled"
                continue
            try:
                service = entry.load()()
            except Exception as error:
                self.skipped[entry.name] = f"failed to load: {type(error).__name__}: {error}"
                continue
            if getattr(service, "name", None) != entry.name:
                raise ConfigurationError(
                    f"entry point {entry.name!r} ({entry.value}) built a service named"
                    f" {getattr(service, 'name', None)!r}: the names must match")
            self.register(service, origin=entry.distribution)
            loaded.append(entry.name)
        return loaded

    def unregister(self, name: str) -> None:
        self.stop(name)
        del self._supervisors[name]

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, name: str) -> ServiceState:
        """Start ``name``. A durable service waits (registered) until the bus has a
        ``durable_source`` to follow; :meth:`start_all` then starts it."""
        supervisor = self._get(name)
        if supervisor.state in _LIVE:
            return supervisor.state
        if supervisor.durable and self.bus.durable_source is None:
            return supervisor.state
        self._move(supervisor, ServiceState.STARTING)
        try:
            start = getattr(supervisor.service, "start", None)
            if callable(start):
                start()
            supervisor.attach()
        except Exception as error:
            supervisor.detach()
            self._emit(Error(name, self.clock.now(), topic="service.start",
                             error_type=type(error).__name__, message=str(error)[:500]))
            self._move(supervisor, ServiceState.FAILED)
            return supervisor.state
        self._move(supervisor, ServiceState.RUNNING)
        self._emit(Started(name, self.clock.now()))
        self._refresh(supervisor)
        return supervisor.state

    def stop(self, name: str) -> ServiceState:
        supervisor = self._get(name)
        if supervisor.state in (ServiceState.STOPPED, ServiceState.REGISTERED):
            return supervisor.state
        supervisor.detach()
        stop = getattr(supervisor.service, "stop", None)
        if callable(stop):
            try:
                stop()
            except Exception as error:
                self._emit(Error(name, self.clock.now(), topic="service.stop",
                                 error_type=type(error).__name__, message=str(error)[:500]))
        self._move(supervisor, ServiceState.STOPPED)
        self._emit(Stopped(name, self.clock.now()))
        return supervisor.state

    def restart(self, name: str) -> ServiceState:
        """Stop, close the breaker, start again; the refused events are then redriven."""
        supervisor = self._get(name)
        self.stop(name)
        supervisor.breaker.reset()
        supervisor.restarts += 1
        state = self.start(name)
        self._emit(Restarted(name, self.clock.now(), restarts=supervisor.restarts))
        return state

    def start_all(self) -> None:
        """Start every service not started yet (registered, or waiting to be durable)."""
        for name in self.names():
            if self._get(name).state is ServiceState.REGISTERED:
                self.start(name)

    def stop_all(self) -> None:
        self.stop_health_checks()
        for name in reversed(self.names()):
            self.stop(name)

    # -- health -----------------------------------------------------------------------------
    def check_health(self, *, force: bool = False) -> list[HealthCheck]:
        """Run the ``health()`` checks that are due (all with ``force``); a service that
        reports unhealthy is degraded until a later check passes."""
        now = self.clock.now()
        checks = []
        for supervisor in list(self._supervisors.values()):
            health = getattr(supervisor.service, "health", None)
            if supervisor.state not in _LIVE or not callable(health):
                continue
            if not force and now < supervisor.next_health_at:
                continue
            supervisor.next_health_at = now + supervisor.settings.health_interval
            try:
                result = health()
                healthy, detail = result if isinstance(result, tuple) else (bool(result), "")
            except Exception as error:
                healthy, detail = False, f"{type(error).__name__}: {error}"
            supervisor.healthy, supervisor.health_detail = bool(healthy), str(detail)
            check = HealthCheck(supervisor.name, now, healthy=bool(healthy), detail=str(detail))
            checks.append(check)
            self._emit(check)
            self._refresh(supervisor)
        return checks

    def start_health_checks(self, tick: float = 1.0) -> None:
        """Check health in a background thread every ``tick`` seconds (``vmcore serve``)."""
        if self._health_stop is not None:
            return
        stop = self._health_stop = threading.Event()

        def loop() -> None:
            while not stop.wait(tick):
                self.check_health()

        threading.Thread(target=loop, name="vmcore-service-health", daemon=True).start()

    def stop_health_checks(self) -> None:
        if self._health_stop is not None:
            self._health_stop.set()
            self._health_stop = None

    # -- reading ----------------------------------------------------------------------------
    def state(self, name: str) -> ServiceState:
        return self._get(name).state

    def supervisor(self, name: str) -> Supervisor:
        return self._get(name)

    def status(self, name: str) -> ServiceStatus:
        s = self._get(name)
        return ServiceStatus(name=name, state=s.state.value, breaker=s.breaker.state.value,
                             origin=s.origin, healthy=s.healthy, counts=s.counts(),
                             errors=dict(s.errors))

    def statuses(self) -> list[ServiceStatus]:
        return [self.status(name) for name in self.names()]

    def redrive(self, name: str, *, refused_only: bool = True) -> int:
        return self._get(name).redrive(refused_only=refused_only)

    def names(self) -> list[str]:
        return list(self._supervisors)

    def __getitem__(self, name: str) -> Any:
        return self._get(name).service

    def __contains__(self, name: object) -> bool:
        return name in self._supervisors

    # -- internals --------------------------------------------------------------------------
    def _get(self, name: str) -> Supervisor:
        try:
            return self._supervisors[name]
        except KeyError:
            raise UnknownService(name) from None

    def _emit(self, event: ServiceEvent) -> None:
        self._publish(event)

    def _move(self, supervisor: Supervisor, new: ServiceState) -> None:
        old = supervisor.state
        if old is new:
            return
        supervisor.state = new
        self._emit(StateChanged(supervisor.name, self.clock.now(), from_state=old, to_state=new))

    def _refresh(self, supervisor: Supervisor) -> None:
        """Running or degraded, from the breaker and the last health check."""
        if supervisor.state not in _LIVE:
            return
        degraded = (supervisor.breaker.state is not BreakerState.CLOSED
                    or supervisor.healthy is False)
        self._move(supervisor, ServiceState.DEGRADED if degraded else ServiceState.RUNNING)
