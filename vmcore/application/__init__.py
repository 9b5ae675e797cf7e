"""Use cases: the ControlPlane, queries, the guest runner, machine snapshots, the service registry.

Only the light, always-needed names are re-exported here; the guest runner and machine snapshots
pull in the translator and are imported from their own modules when a command needs them.
Names load on first use (PEP 562), so importing a submodule (``vmcore.application.errors``,
``vmcore.application.fleet_view``) does not import the ControlPlane and the domain with it.
"""

from typing import TYPE_CHECKING

from vmcore.domain.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from vmcore.application.control_plane import DEFAULT_SNAPSHOT_INTERVAL, ControlPlane
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
    from vmcore.application.retries import retry_on_conflict

_LAZY = {
    "DEFAULT_SNAPSHOT_INTERVAL": "vmcore.application.control_plane",
    "ControlPlane": "vmcore.application.control_plane",
    "retry_on_conflict": "vmcore.application.retries",
    "ConcurrencyConflict": "vmcore.application.errors",
    "ConfigurationError": "vmcore.application.errors",
    "NameTaken": "vmcore.application.errors",
    "StoreUnavailable": "vmcore.application.errors",
    "VersionNotFound": "vmcore.application.errors",
    "VmcoreError": "vmcore.application.errors",
    "VmNotFound": "vmcore.application.errors",
    "EventQuery": "vmcore.application.queries",
}


__getattr__ = lazy_exports(__name__, _LAZY)


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
