"""The infrastructure factory behind ``PERSISTENCE_MODULE=vmcore_event_store.postgres``.

Configured with eventsourcing's ``POSTGRES_*`` names (``POSTGRES_DBNAME``, ``POSTGRES_HOST``,
``POSTGRES_PORT``, ``POSTGRES_USER``, ``POSTGRES_PASSWORD``, ``POSTGRES_POOL_SIZE``, ...), with
``<APPNAME>_`` prefixes honoured as eventsourcing does. A libpq connection string or URL in
``VMCORE_POSTGRES_DSN`` or ``POSTGRES_DSN`` fills in whichever of those five are not set.
"""

from __future__ import annotations

import psycopg
from eventsourcing.persistence import OperationalError
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, EnvType

from vmcore_event_store.dsn import postgres_settings
from vmcore_event_store.postgres.recorders import (
    VmcoreAggregateRecorder,
    VmcoreApplicationRecorder,
    VmcoreProcessRecorder,
    VmcoreTrackingRecorder,
)

__all__ = ["DSN_KEYS", "Factory", "environment_with_dsn"]

DSN_KEYS = ("VMCORE_POSTGRES_DSN", "POSTGRES_DSN")

def environment_with_dsn(env: Environment | EnvType | None) -> Environment:
    """Returns ``env`` (as an Environment) with ``POSTGRES_*`` filled in from a DSN if set.

    Explicit ``POSTGRES_*`` values win over the DSN's parts.
    """
    environment = env if isinstance(env, Environment) else Environment(env=env)
    dsn = next((v for k in DSN_KEYS if (v := environment.get(k))), None)
    if dsn:
        for key, value in postgres_settings(dsn).items():
            if environment.get(key) is None:
                environment[key] = value
    return environment


class Factory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, with vmcore's recorders and DSN support."""

    aggregate_recorder_class = VmcoreAggregateRecorder
    application_recorder_class = VmcoreApplicationRecorder
    tracking_recorder_class = VmcoreTrackingRecorder
    process_recorder_class = VmcoreProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(environment_with_dsn(env))
        self._probe()

    def _probe(self) -> None:
        """Connects once, directly, so that an unreachable server fails at once with its
        real cause (refused, unknown host, bad password) rather than a pool timeout."""
        pool = self.datastore.pool
        kwargs = pool.kwargs
        if not isinstance(kwargs, dict) or self.env.get(self.POSTGRES_GET_PASSWORD_TOPIC):
            return  # a password function: the pool's own first connect reports instead
        try:
            psycopg.connect(**kwargs, connect_timeout=max(1, int(pool.timeout))).close()
        except psycopg.OperationalError as error:
            lines = str(error).strip().splitlines()
            cause = " ".join(lines[0].split()) if lines else type(error).__name__
            raise OperationalError(
                f"cannot connect to PostgreSQL {kwargs.get('user')}@{kwargs.get('host')}:"
                f"{kwargs.get('port')}/{kwargs.get('dbname')}: {cause}") from None
