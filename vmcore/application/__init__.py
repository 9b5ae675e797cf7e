"""Use cases: the ControlPlane, queries, the guest runner, machine snapshots, the service registry.

Only the light, always-needed names are re-exported here; the guest runner and machine snapshots
pull in the translator and are imported from their own modules when a command needs them.
"""

from vmcore.application.control_plane import (
    DEFAULT_SNAPSHOT_INTERVAL,
    ControlPlane,
    retry_on_conflict,
)
from vmcore.application.errors import (
    ConcurrencyConflict,
    ConfigurationError,
    NameTaken,
    StoreUnavailable,
    VersionNotFound,
    VmcoreError,
    VmNotFound,
)
from vmcore.application.queries import EventQuery

__all__ = [
    "DEFAULT_SNAPSHOT_INTERVAL",
    "ConcurrencyConflict",
    "ConfigurationError",
    "ControlPlane",
    "EventQuery",
    "NameTaken",
    "StoreUnavailable",
    "VersionNotFound",
    "VmNotFound",
    "VmcoreError",
    "retry_on_conflict",
]
