"""What an HTTP server needs for ``GET /v1/services`` and ``POST /v1/services/{name}/restart``.

Plain data in and out (JSON-ready dicts); :class:`UnknownService` for a name that is not
registered (a 404). The server decides authentication and rate limits.
"""

from __future__ import annotations

from typing import Any

from vmcore.application.services.manager import ServiceManager


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
