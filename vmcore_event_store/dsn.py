"""The one PostgreSQL DSN parser: a libpq ``key=value`` string or a ``postgres://`` URL to
eventsourcing's ``POSTGRES_*`` settings.

Parsing is psycopg's (:func:`psycopg.conninfo.conninfo_to_dict`, libpq's own rules:
quoting, percent-decoding, every key libpq knows), so both forms mean what they mean to
``psql``. The composition root (``--store postgres:DSN``) and the persistence module
(``VMCORE_POSTGRES_DSN``) both read DSNs through :func:`postgres_settings`.
"""

from __future__ import annotations

__all__ = ["DSN_TO_SETTING", "InvalidDsn", "postgres_settings"]

DSN_TO_SETTING = {
    "host": "POSTGRES_HOST",
    "port": "POSTGRES_PORT",
    "user": "POSTGRES_USER",
    "password": "POSTGRES_PASSWORD",
    "dbname": "POSTGRES_DBNAME",
}
"""libpq connection keys and the eventsourcing settings they become."""


class InvalidDsn(ValueError):
    """The text is neither a libpq connection string nor a PostgreSQL URL."""


def postgres_settings(dsn: str) -> dict[str, str]:
    """The ``POSTGRES_*`` settings ``dsn`` gives (only the parts it has)."""
    from psycopg import ProgrammingError  # imported here: the CLI starts without psycopg
    from psycopg.conninfo import conninfo_to_dict

    if "://" in dsn and not dsn.startswith(("postgres://", "postgresql://")):
        raise InvalidDsn(f"not a PostgreSQL DSN: {dsn!r}")
    try:
        parts = conninfo_to_dict(dsn)
    except ProgrammingError as error:
        raise InvalidDsn(f"not a PostgreSQL DSN: {dsn!r} ({str(error).strip()})") from None
    return {
        setting: str(parts[key])
        for key, setting in DSN_TO_SETTING.items()
        if parts.get(key) not in (None, "")
    }
