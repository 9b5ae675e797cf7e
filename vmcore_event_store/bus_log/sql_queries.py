"""The bus log's reads and rule bookkeeping, written once for both SQL backends.

SQLite and PostgreSQL differ only in how they append (locking, ids) and in their parameter
style: these queries are written with ``?`` and each backend's :meth:`_execute` runs them
its way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vmcore_event_store.bus_log.records import Firing, TopicInfo


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
