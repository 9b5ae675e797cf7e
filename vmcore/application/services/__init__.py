"""Domain services plugged into the bus: discovery (entry points ``vmcore.services``),
settings, the ServiceManager with its supervisors (circuit breaker, token bucket, handler
timeouts), service events, Prometheus metrics and the API for ``vmcore serve``.

A domain service is any object with a ``name`` and a ``bus_handlers()`` method returning
``{topic pattern: handler}``; optional ``configure(**options)``, ``start()``, ``stop()`` and
``health()``. Services never call each other: they only react to events.
"""

from vmcore.application.services.api import ServicesApi
from vmcore.application.services.breaker import (
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
)
from vmcore.application.services.discovery import GROUP, Discovered, discover
from vmcore.application.services.events import (
    SERVICE_TOPICS,
    Error,
    HealthCheck,
    Restarted,
    ServiceEvent,
    ServiceState,
    Started,
    StateChanged,
    Stopped,
)
from vmcore.application.services.limiter import LimiterSettings, RateLimited, TokenBucket
from vmcore.application.services.manager import ServiceManager, ServiceStatus, UnknownService
from vmcore.application.services.protocol import DomainService
from vmcore.application.services.settings import ServiceSettings, parse_all

__all__ = [
    "GROUP",
    "SERVICE_TOPICS",
    "BreakerSettings",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpen",
    "Discovered",
    "DomainService",
    "Error",
    "HealthCheck",
    "LimiterSettings",
    "RateLimited",
    "Restarted",
    "ServiceEvent",
    "ServiceManager",
    "ServiceSettings",
    "ServiceState",
    "ServiceStatus",
    "ServicesApi",
    "Started",
    "StateChanged",
    "Stopped",
    "TokenBucket",
    "UnknownService",
    "discover",
    "parse_all",
]
