"""Per-service settings: enabled or not, options for the service, and its supervision.

From the container's ``services`` setting, e.g. (JSON)::

    {"services": {"lifecycle": {"enabled": false},
                  "audit": {"options": {"path": "audit.log"},
                            "breaker": {"failure_threshold": 3, "timeout": 10},
                            "rate_limit": {"capacity": 100, "rate": 50},
                            "handler_timeout": 2.0, "health_interval": 15}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen, validators

from vmcore.application.errors import ConfigurationError
from vmcore.application.services.breaker import BreakerSettings
from vmcore.application.services.limiter import LimiterSettings

_KEYS = {"enabled", "options", "breaker", "rate_limit", "handler_timeout", "health_interval"}


@frozen
class ServiceSettings:
    enabled: bool = True
    options: Mapping[str, Any] = field(factory=dict)
    """Handed to the service's ``configure(**options)``."""
    breaker: BreakerSettings = field(factory=BreakerSettings)
    rate_limit: LimiterSettings | None = None
    handler_timeout: float | None = None
    """Per-attempt limit for its ``async def`` handlers (default: the bus's)."""
    health_interval: float = field(default=30.0, validator=validators.gt(0))

    @classmethod
    def parse(cls, name: str, raw: Any) -> ServiceSettings:
        """Validated settings of service ``name``; :class:`ConfigurationError` names the
        problem."""
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"services.{name} must be a mapping, got {raw!r}")
        unknown = set(raw) - _KEYS
        if unknown:
            raise ConfigurationError(
                f"services.{name}: unknown setting(s) {', '.join(sorted(unknown))};"
                f" use {', '.join(sorted(_KEYS))}")
        try:
            return cls(
                enabled=_boolean(raw.get("enabled", True)),
                options=dict(raw.get("options") or {}),
                breaker=BreakerSettings(**dict(raw.get("breaker") or {})),
                rate_limit=(LimiterSettings(**dict(raw["rate_limit"]))
                            if raw.get("rate_limit") else None),
                handler_timeout=(float(raw["handler_timeout"])
                                 if raw.get("handler_timeout") is not None else None),
                health_interval=float(raw.get("health_interval", 30.0)),
            )
        except (TypeError, ValueError) as error:
            raise ConfigurationError(f"services.{name}: {_message(error)}") from None


def parse_all(raw: Any) -> dict[str, ServiceSettings]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"the services setting must be a mapping, got {raw!r}")
    return {str(name): ServiceSettings.parse(str(name), value) for name, value in raw.items()}


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"enabled must be true or false, got {value!r}")


def _message(error: Exception) -> str:
    """attrs validators put the readable text first in ``args``, then the attribute."""
    first = error.args[0] if error.args else error
    return first if isinstance(first, str) else str(error)
