"""What an HTTP server needs for ``GET /v1/services`` and ``POST /v1/services/{name}/restart``.

Plain data in and out (JSON-ready dicts); :class:`UnknownService` for a name that is not
registered (a 404). The server decides authentication and rate limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vmcore.application.services.discovery import Discovered
from vmcore.application.services.manager import ServiceManager
from vmcore.application.services.settings import ServiceSettings


class ServicesApi:
    def __init__(self, manager: ServiceManager) -> None:
        self.manager = manager

    def list_services(self) -> list[dict[str, Any]]:
        """Each service: name, state, breaker, origin, healthy, counts and errors by type."""
        return [status.as_dict() for status in self.manager.statuses()]

    def restart(self, name: str) -> dict[str, Any]:
        """Restart ``name`` and return its status afterwards."""
        self.manager.restart(name)
        return self.manager.status(name).as_dict()


def catalogue(discovered: list[Discovered], settings: Mapping[str, ServiceSettings]
              ) -> list[dict[str, Any]]:
    """What ``vmcore services list`` shows: every discovered service, whether its settings
    enable it, its options and supervision settings (nothing is loaded or started)."""
    rows = []
    for entry in discovered:
        s = settings.get(entry.name, ServiceSettings())
        rows.append({
            "name": entry.name,
            "enabled": s.enabled,
            "distribution": entry.distribution,
            "factory": entry.value,
            "options": dict(s.options),
            "breaker": {"failure_threshold": s.breaker.failure_threshold,
                        "success_threshold": s.breaker.success_threshold,
                        "timeout": s.breaker.timeout, "time_window": s.breaker.time_window},
            "rate_limit": (None if s.rate_limit is None else
                           {"capacity": s.rate_limit.capacity, "rate": s.rate_limit.rate}),
            "handler_timeout": s.handler_timeout,
        })
    unknown = sorted(set(settings) - {entry.name for entry in discovered})
    rows.extend({"name": name, "enabled": settings[name].enabled, "distribution": None,
                 "factory": None, "options": dict(settings[name].options),
                 "note": "in the settings, but no installed entry point"} for name in unknown)
    return rows
