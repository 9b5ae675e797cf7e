"""The registry through which domain services are plugged into the bus.

A domain service is any object with a ``name`` and a ``bus_handlers()`` method returning
``{topic pattern: handler}``; registering it subscribes each handler. Services never call
each other: they only react to events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

Handler = Callable[[Any], Any]


class DomainService(Protocol):
    @property
    def name(self) -> str: ...

    def bus_handlers(self) -> Mapping[str, Handler]: ...


class Subscriber(Protocol):
    def subscribe(self, topic: str, handler: Handler, /, *, name: str | None = None) -> Any: ...

    def unsubscribe(self, subscription_id: Any, /) -> Any: ...


class ServiceRegistry:
    """Plugs domain services into one bus and remembers their subscriptions."""

    def __init__(self, bus: Subscriber) -> None:
        self._bus = bus
        self._services: dict[str, DomainService] = {}
        self._subscriptions: dict[str, list[Any]] = {}

    def register(self, service: DomainService) -> DomainService:
        if service.name in self._services:
            raise ValueError(f"a domain service named {service.name!r} is already registered")
        self._services[service.name] = service
        self._subscriptions[service.name] = [
            self._bus.subscribe(topic, handler, name=f"{service.name}:{topic}")
            for topic, handler in service.bus_handlers().items()
        ]
        return service

    def unregister(self, name: str) -> None:
        for subscription_id in self._subscriptions.pop(name, []):
            self._bus.unsubscribe(subscription_id)
        self._services.pop(name, None)

    def __getitem__(self, name: str) -> DomainService:
        return self._services[name]

    def __contains__(self, name: object) -> bool:
        return name in self._services

    def names(self) -> list[str]:
        return list(self._services)
