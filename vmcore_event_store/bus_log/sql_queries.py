"""The bus log's schema, reads and rule bookkeeping, written once for both SQL backends.

SQLite and PostgreSQL differ only in how they append (locking, ids) and in their parameter
style: these queries are written with ``?`` and each backend's :meth:`_execute` runs them
its way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vmcore_event_store.bus_log.records import INDEXES, Firing, TopicInfo

COLUMNS = "event_id, topic, payload, timestamp, metadata, source_trn, target_trn, correlation_id"


def schema(event_id: str, integer: str) -> tuple[str, ...]:
    """The seed's ``event_log`` table, its indexes and the rule tables, in a dialect given
    by its event_id column definition and its 64-bit integer type."""
    return (
        f"""CREATE TABLE IF NOT EXISTS event_log (
        event_id {event_id},
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        timestamp {integer} NOT NULL,
        metadata TEXT,
        source_trn TEXT,
        target_trn TEXT,
        correlation_id TEXT
    )""",
        *INDEXES,
        "CREATE TABLE IF NOT EXISTS bus_rules (rule_id TEXT PRIMARY KEY, body TEXT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS bus_rule_firings (
        rule_id TEXT NOT NULL, trigger_event_id {integer} NOT NULL,
        PRIMARY KEY (rule_id, trigger_event_id))""",
        f"CREATE TABLE IF NOT EXISTS bus_cursors (name TEXT PRIMARY KEY, position {integer}"
        " NOT NULL)",
    )


class SqlBusLogQueries:
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run ``sql`` (``?`` placeholders) and return the backend's cursor."""
        raise NotImplementedError

    def topics(self) -> list[TopicInfo]:
        rows = self._execute("SELECT topic, COUNT(*), MAX(event_id) FROM event_log"
                             " GROUP BY topic ORDER BY topic").fetchall()
        return [TopicInfo(row[0], int(row[1]), int(row[2])) for row in rows]

    def last_event_id(self) -> int:
        row = self._execute("SELECT MAX(event_id) FROM event_log").fetchone()
        return int(row[0] or 0) if row else 0

    def fired(self, firing: Firing) -> bool:
        row = self._execute("SELECT 1 FROM bus_rule_firings WHERE rule_id = ? AND"
                            " trigger_event_id = ?",
                            (firing.rule_id, firing.trigger_event_id)).fetchone()
        return row is not None

    def cursor(self, name: str) -> int:
        row = self._execute("SELECT position FROM bus_cursors WHERE name = ?",
                            (name,)).fetchone()
        return int(row[0]) if row else 0

    def put_rule(self, rule_id: str, body: str) -> None:
        self._execute("INSERT INTO bus_rules VALUES (?, ?) ON CONFLICT (rule_id)"
                      " DO UPDATE SET body = excluded.body", (rule_id, body))

    def delete_rule(self, rule_id: str) -> bool:
        return bool(self._execute("DELETE FROM bus_rules WHERE rule_id = ?",
                                  (rule_id,)).rowcount)

    def rules(self) -> list[tuple[str, str]]:
        rows = self._execute("SELECT rule_id, body FROM bus_rules ORDER BY rule_id")
        return [(str(a), str(b)) for a, b in rows.fetchall()]
