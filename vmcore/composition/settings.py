"""The bus's settings, validated: what the container builds the bus from.

From the ``bus`` setting (a mapping in the settings dict or the config file) or the
``VMCORE_BUS_*`` variables; every bad value is refused with a :class:`ConfigurationError`
that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from attrs import field, frozen, validators

from vmcore.application.errors import ConfigurationError

if TYPE_CHECKING:  # the bus loads only for commands that publish
    from vmcore.bus.retry import RetryPolicy

BUS_DEFAULTS: dict[str, Any] = {
    "workers": 4,
    "max_queue_size": 1_000,
    "overflow": "block",
    "dead_letter_limit": 10_000,
    "latency_sampling": 8,
    "handler_timeout": 30.0,
    "retry_attempts": 1,
    "retry_delay": 0.0,
}
BUS_ENVIRONMENT = {key: f"VMCORE_BUS_{key.upper()}" for key in BUS_DEFAULTS}


def _optional_seconds(value: Any) -> float | None:
    if value in (None, "", 0, "0", "none"):
        return None
    return float(value)


@frozen
class BusSettings:
    workers: int = field(converter=int, validator=[validators.ge(1), validators.le(16)])
    max_queue_size: int = field(converter=int, validator=validators.ge(1))
    overflow: str = field(validator=validators.in_(("block", "raise")))
    dead_letter_limit: int = field(converter=int, validator=validators.ge(1))
    latency_sampling: int = field(converter=int, validator=validators.ge(1))
    handler_timeout: float | None = field(converter=_optional_seconds)
    retry_attempts: int = field(converter=int, validator=validators.ge(1))
    retry_delay: float = field(converter=float, validator=validators.ge(0.0))

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> BusSettings:
        values = {**BUS_DEFAULTS, **(raw or {})}
        unknown = set(values) - set(BUS_DEFAULTS)
        if unknown:
            raise ConfigurationError(f"unknown bus setting(s) {', '.join(sorted(unknown))};"
                                     f" use {', '.join(BUS_DEFAULTS)}")
        try:
            settings = cls(**values)
        except (TypeError, ValueError) as error:
            raise ConfigurationError(f"bus settings: {_message(error)}") from None
        sampling = settings.latency_sampling
        if sampling & (sampling - 1):
            raise ConfigurationError(f"bus latency_sampling must be a power of two, got {sampling}")
        if settings.handler_timeout is not None and settings.handler_timeout <= 0:
            raise ConfigurationError("bus handler_timeout must be > 0 seconds (or none)")
        return settings

    def retry_policy(self) -> RetryPolicy:
        from vmcore.bus.retry import RetryPolicy

        return RetryPolicy.fixed(self.retry_attempts, self.retry_delay)


def _message(error: Exception) -> str:
    """attrs validators put the readable text first in ``args``, then the attribute."""
    first = error.args[0] if error.args else error
    return first if isinstance(first, str) else str(error)
