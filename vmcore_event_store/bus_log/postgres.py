"""The event log in PostgreSQL (psycopg 3). Several ``vmcore bus serve`` processes may share
one database: appends take an exclusive table lock, so event_ids commit in increasing order
and a reader that polls ``since`` its last id never misses an event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from vmcore_event_store.bus_log.records import (
    MAX_LIMIT,
    Firing,
    LogQuery,
    NewEvent,
    StoredEvent,
    sql_where,
)
from vmcore_event_store.bus_log.sql_queries import COLUMNS, SqlBusLogQueries, schema

SCHEMA = schema("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BIGINT")
_SCHEMA_LOCK = 0x7662_7573  # "vbus": serialises CREATE ... IF NOT EXISTS across processes


class PostgresBusLog(SqlBusLogQueries):
    """``dsn`` is a libpq connection string or URI."""

    durable = True

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._connection = psycopg.connect(dsn, autocommit=True)
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in SCHEMA:
                self._db.execute(statement)

    @property
    def _db(self) -> psycopg.Connection[Any]:
        """The connection, reopened after the server dropped it (the failed call raised)."""
        if self._connection.broken:
            self._connection.close()
            self._connection = psycopg.connect(self._dsn, autocommit=True)
        return self._connection

    def append(self, events: Sequence[NewEvent], *, firing: Firing | None = None,
               cursor: tuple[str, int] | None = None) -> list[StoredEvent] | None:
        db = self._db
        with db.transaction():
            db.execute("LOCK TABLE event_log IN EXCLUSIVE MODE")
            if firing is not None:
                inserted = db.execute(
                    "INSERT INTO bus_rule_firings VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    (firing.rule_id, firing.trigger_event_id)).rowcount
                if not inserted:
                    return None
            stored = []
            with db.cursor() as cur:
                for event in events:
                    cur.execute(
                        "INSERT INTO event_log (topic, payload, timestamp, metadata, source_trn,"
                        " target_trn, correlation_id) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                        " RETURNING event_id",
                        (event.topic, event.payload, event.timestamp, event.metadata,
                         event.source_trn, event.target_trn, event.correlation_id))
                    row = cur.fetchone()
                    assert row is not None
                    stored.append(StoredEvent.of(int(row[0]), event))
            if cursor is not None:
                db.execute("INSERT INTO bus_cursors VALUES (%s, %s) ON CONFLICT (name)"
                           " DO UPDATE SET position = excluded.position", cursor)
        return stored

    def select(self, query: LogQuery) -> list[StoredEvent]:
        where, values = sql_where(query, "%s")
        rows = self._db.execute(
            f"SELECT {COLUMNS} FROM event_log WHERE {where}"
            " ORDER BY event_id LIMIT %s", (*values, min(query.limit, MAX_LIMIT))).fetchall()
        return [StoredEvent(*row) for row in rows]

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._db.execute(sql.replace("?", "%s"), params)

    def close(self) -> None:
        self._connection.close()
