"""Domain services plugged into the bus: discovery (entry points ``vmcore.services``),
settings, the ServiceManager with its supervisors (circuit breaker, token bucket, handler
timeouts), service events, Prometheus metrics and the API for ``vmcore serve``.

A domain service is any object with a ``name`` and a ``bus_handlers()`` method returning
``{topic pattern: handler}``; optional ``configure(**options)``, ``start()``, ``stop()`` and
``health()``. Services never call each other: they only react to events.
"""

from typing import TYPE_CHECKING

from vmcore.domain.lazy_exports import lazy_exports

if TYPE_CHECKING:
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

# Names load on first use (PEP 562): importing one submodule costs only what it needs.
_LAZY = {
    "ServicesApi": "vmcore.application.services.api",
    "BreakerSettings": "vmcore.application.services.breaker",
    "BreakerState": "vmcore.application.services.breaker",
    "CircuitBreaker": "vmcore.application.services.breaker",
    "CircuitOpen": "vmcore.application.services.breaker",
    "GROUP": "vmcore.application.services.discovery",
    "Discovered": "vmcore.application.services.discovery",
    "discover": "vmcore.application.services.discovery",
    "SERVICE_TOPICS": "vmcore.application.services.events",
    "Error": "vmcore.application.services.events",
    "HealthCheck": "vmcore.application.services.events",
    "Restarted": "vmcore.application.services.events",
    "ServiceEvent": "vmcore.application.services.events",
    "ServiceState": "vmcore.application.services.events",
    "Started": "vmcore.application.services.events",
    "StateChanged": "vmcore.application.services.events",
    "Stopped": "vmcore.application.services.events",
    "LimiterSettings": "vmcore.application.services.limiter",
    "RateLimited": "vmcore.application.services.limiter",
    "TokenBucket": "vmcore.application.services.limiter",
    "ServiceManager": "vmcore.application.services.manager",
    "ServiceStatus": "vmcore.application.services.manager",
    "UnknownService": "vmcore.application.services.manager",
    "DomainService": "vmcore.application.services.protocol",
    "ServiceSettings": "vmcore.application.services.settings",
    "parse_all": "vmcore.application.services.settings",
}

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


__getattr__ = lazy_exports(__name__, _LAZY)
