"""PostgreSQL persistence for vmcore: ``PERSISTENCE_MODULE=vmcore_event_store.postgres``.

eventsourcing's PostgreSQL tables and configuration, with a faster write path that lets
concurrent writers commit in parallel while tailing readers still never pass over an event
that commits later (see docs/postgres-store.md).
"""

from vmcore_event_store.postgres.factory import DSN_KEYS, Factory, environment_with_dsn
from vmcore_event_store.postgres.recorders import (
    VmcoreAggregateRecorder,
    VmcoreApplicationRecorder,
    VmcoreProcessRecorder,
    VmcoreTrackingRecorder,
)
from vmcore_event_store.postgres.subscription import PollingSubscription

__all__ = [
    "DSN_KEYS",
    "Factory",
    "PollingSubscription",
    "VmcoreAggregateRecorder",
    "VmcoreApplicationRecorder",
    "VmcoreProcessRecorder",
    "VmcoreTrackingRecorder",
    "environment_with_dsn",
]
