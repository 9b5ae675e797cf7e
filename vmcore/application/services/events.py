"""Service events (seed 004): what the ServiceManager reports on the bus.

They are runtime events, like :class:`vmcore.domain.runtime.RuntimeEvent`: they travel the
bus under ``service.*`` topics and are never persisted. ``at`` is the manager's clock.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from attrs import frozen


class ServiceState(enum.Enum):
    REGISTERED = "registered"
    STARTING = "starting"
    RUNNING = "running"
    DEGRADED = "degraded"
    """Running, but its breaker is not closed or its last health check failed."""
    STOPPED = "stopped"
    FAILED = "failed"
    """Its ``start()`` raised; ``restart`` tries again."""


@frozen
class ServiceEvent:
    bus_topic: ClassVar[str] = "service.*"
    service: str
    at: float


@frozen
class StateChanged(ServiceEvent):
    bus_topic: ClassVar[str] = "service.state_changed"
    from_state: ServiceState
    to_state: ServiceState


@frozen
class HealthCheck(ServiceEvent):
    bus_topic: ClassVar[str] = "service.health_check"
    healthy: bool
    detail: str = ""


@frozen
class Error(ServiceEvent):
    """A handler of the service failed (or was refused by its breaker or rate limit)."""

    bus_topic: ClassVar[str] = "service.error"
    topic: str
    error_type: str
    message: str


@frozen
class Started(ServiceEvent):
    bus_topic: ClassVar[str] = "service.started"


@frozen
class Stopped(ServiceEvent):
    bus_topic: ClassVar[str] = "service.stopped"


@frozen
class Restarted(ServiceEvent):
    bus_topic: ClassVar[str] = "service.restarted"
    restarts: int


SERVICE_TOPICS = tuple(cls.bus_topic for cls in
                       (StateChanged, HealthCheck, Error, Started, Stopped, Restarted))
