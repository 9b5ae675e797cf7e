"""The event log in PostgreSQL (psycopg 3). Several ``vmcore bus serve`` processes may share
one database: appends take an exclusive table lock, so event_ids commit in increasing order
and a reader that polls ``since`` its last id never misses an event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from vmcore_event_store.bus_log.records import (
    INDEXES,
    MAX_LIMIT,
    Firing,
    LogQuery,
    NewEvent,
    StoredEvent,
    TopicInfo,
    sql_where,
)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS event_log (
        event_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        timestamp BIGINT NOT NULL,
        metadata TEXT,
        source_trn TEXT,
        target_trn TEXT,
        correlation_id TEXT
    )""",
    *INDEXES,
    "CREATE TABLE IF NOT EXISTS bus_rules (rule_id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS bus_rule_firings (
        rule_id TEXT NOT NULL, trigger_event_id BIGINT NOT NULL,
        PRIMARY KEY (rule_id, trigger_event_id))""",
    "CREATE TABLE IF NOT EXISTS bus_cursors (name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
)
_COLUMNS = "event_id, topic, payload, timestamp, metadata, source_trn, target_trn, correlation_id"
_SCHEMA_LOCK = 0x7662_7573  # "vbus": serialises CREATE ... IF NOT EXISTS across processes


class PostgresBusLog:
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
            f"SELECT {_COLUMNS} FROM event_log WHERE {where}"
            " ORDER BY event_id LIMIT %s", (*values, min(query.limit, MAX_LIMIT))).fetchall()
        return [StoredEvent(*row) for row in rows]

    def topics(self) -> list[TopicInfo]:
        rows = self._db.execute("SELECT topic, COUNT(*), MAX(event_id) FROM event_log"
                                " GROUP BY topic ORDER BY topic").fetchall()
        return [TopicInfo(row[0], int(row[1]), int(row[2])) for row in rows]

    def last_event_id(self) -> int:
        row = self._db.execute("SELECT MAX(event_id) FROM event_log").fetchone()
        return int(row[0] or 0) if row else 0

    def fired(self, firing: Firing) -> bool:
        row = self._db.execute("SELECT 1 FROM bus_rule_firings WHERE rule_id = %s AND"
                               " trigger_event_id = %s",
                               (firing.rule_id, firing.trigger_event_id)).fetchone()
        return row is not None

    def cursor(self, name: str) -> int:
        row = self._db.execute("SELECT position FROM bus_cursors WHERE name = %s",
                               (name,)).fetchone()
        return int(row[0]) if row else 0

    def put_rule(self, rule_id: str, body: str) -> None:
        self._db.execute("INSERT INTO bus_rules VALUES (%s, %s) ON CONFLICT (rule_id)"
                         " DO UPDATE SET body = excluded.body", (rule_id, body))

    def delete_rule(self, rule_id: str) -> bool:
        return bool(self._db.execute("DELETE FROM bus_rules WHERE rule_id = %s",
                                     (rule_id,)).rowcount)

    def rules(self) -> list[tuple[str, str]]:
        rows = self._db.execute("SELECT rule_id, body FROM bus_rules ORDER BY rule_id")
        return [(str(a), str(b)) for a, b in rows.fetchall()]

    def close(self) -> None:
        self._connection.close()
