"""The event log in SQLite: seed 002's ``event_log`` table, WAL, ``synchronous=FULL``.

An append commits one transaction, so an event is on disk (fsync'ed) when ``append`` returns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vmcore_event_store.bus_log.records import (
    MAX_LIMIT,
    Firing,
    LogQuery,
    NewEvent,
    StoredEvent,
    sql_where,
)
from vmcore_event_store.bus_log.sql_queries import COLUMNS, SqlBusLogQueries, schema

SCHEMA = schema("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER")


class SQLiteBusLog(SqlBusLogQueries):
    """One database file per instance; several processes may share it (SQLite locks)."""

    durable = True

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        for statement in SCHEMA:
            self._db.execute(statement)

    def append(self, events: Sequence[NewEvent], *, firing: Firing | None = None,
               cursor: tuple[str, int] | None = None) -> list[StoredEvent] | None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if firing is not None:
                inserted = db.execute(
                    "INSERT OR IGNORE INTO bus_rule_firings VALUES (?, ?)",
                    (firing.rule_id, firing.trigger_event_id)).rowcount
                if not inserted:
                    db.execute("ROLLBACK")
                    return None
            stored = []
            for event in events:
                cur = db.execute(
                    "INSERT INTO event_log (topic, payload, timestamp, metadata, source_trn,"
                    " target_trn, correlation_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (event.topic, event.payload, event.timestamp, event.metadata,
                     event.source_trn, event.target_trn, event.correlation_id))
                assert cur.lastrowid is not None
                stored.append(StoredEvent.of(cur.lastrowid, event))
            if cursor is not None:
                db.execute("INSERT INTO bus_cursors VALUES (?, ?) ON CONFLICT (name) DO UPDATE"
                           " SET position = excluded.position", cursor)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return stored

    def select(self, query: LogQuery) -> list[StoredEvent]:
        where, values = sql_where(query, "?")
        rows = self._db.execute(
            f"SELECT {COLUMNS} FROM event_log WHERE {where} ORDER BY event_id LIMIT ?",
            (*values, min(query.limit, MAX_LIMIT))).fetchall()
        return [StoredEvent(*row) for row in rows]

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._db.execute(sql, params)

    def close(self) -> None:
        self._db.close()
