"""vmcore's PostgreSQL recorders: eventsourcing's tables, a faster gap-safe write path.

eventsourcing's default application recorder serialises writers with ``LOCK TABLE ... IN
EXCLUSIVE MODE`` plus a ``NOTIFY`` held until commit, so concurrent writers queue behind one
another's WAL flush. These recorders keep eventsourcing's table layout (the tables stay
readable by eventsourcing's own recorder) but write through one server-side function call per
batch under a *shared* advisory lock, and make readers pass an exclusive barrier on the same
lock before they read (see ``_sql.py`` and docs/postgres-store.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import (
    ApplicationRecorder,
    Notification,
    StoredEvent,
    Subscription,
    Tracking,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.utils import retry
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from vmcore_event_store.postgres import _sql
from vmcore_event_store.postgres.event_queries import field_arrays
from vmcore_event_store.postgres.in_doubt import (
    RETRYABLE,
    committed_ids_statement,
    find_committed_ids,
    write_in_doubt_safe,
)
from vmcore_event_store.postgres.indexed_queries import IndexedQueries
from vmcore_event_store.postgres.subscription import PollingSubscription

__all__ = [
    "VmcoreAggregateRecorder",
    "VmcoreApplicationRecorder",
    "VmcoreProcessRecorder",
    "VmcoreTrackingRecorder",
]

_RETRYABLE = RETRYABLE


class _SerialisedDdl:
    """Mixin: table creation serialised across processes by a session advisory lock.

    ``CREATE ... IF NOT EXISTS`` and ``CREATE OR REPLACE FUNCTION`` race when several
    processes start at once ("tuple concurrently updated"); the lock is taken on a dedicated
    connection so a pool of size one cannot deadlock against it.
    """

    datastore: PostgresDatastore

    def create_table(self) -> None:
        pool = self.datastore.pool
        kwargs_param = pool.kwargs
        kwargs: dict[str, Any] = dict(
            (kwargs_param() if callable(kwargs_param) else kwargs_param) or {}
        )
        kwargs.pop("row_factory", None)
        if pool.get_password_func is not None:
            kwargs["password"] = pool.get_password_func()
        conninfo = pool.conninfo if isinstance(pool.conninfo, str) else pool.conninfo()
        key = _sql.ddl_lock_key(self.datastore.schema)
        with psycopg.connect(conninfo, autocommit=True, **kwargs) as conn:
            conn.execute("SELECT pg_advisory_lock(%s::bigint)", (key,))
            try:
                super().create_table()  # type: ignore[misc]
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s::bigint)", (key,))


class VmcoreAggregateRecorder(_SerialisedDdl, PostgresAggregateRecorder):
    """eventsourcing's aggregate recorder (used for snapshots) with serialised DDL."""


class VmcoreTrackingRecorder(_SerialisedDdl, PostgresTrackingRecorder):
    """eventsourcing's tracking recorder with serialised DDL; a position whose write was
    in doubt (connection lost after sending) counts as recorded if the server has it."""

    def insert_tracking(self, tracking: Tracking) -> None:
        write_in_doubt_safe(
            lambda: self._write_tracking(tracking), lambda: self._has_position(tracking)
        )

    def _write_tracking(self, tracking: Tracking) -> bool:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
        return True

    def _has_position(self, tracking: Tracking) -> bool | None:
        current = self.max_tracking_id(tracking.application_name)
        return True if current == tracking.notification_id else None


def _columns(stored_events: Sequence[StoredEvent]) -> tuple[list[Any], ...]:
    """The insert functions' arrays: eventsourcing's four columns, then the derived query
    columns (see ``event_queries.py``)."""
    states = [e.state for e in stored_events]
    return (
        [e.originator_id for e in stored_events],
        [e.originator_version for e in stored_events],
        [e.topic for e in stored_events],
        states,
        *field_arrays(states),
    )


class VmcoreApplicationRecorder(IndexedQueries, _SerialisedDdl, PostgresApplicationRecorder):
    """Application recorder: one round trip per write, writers commit in parallel.

    Compatible with eventsourcing's tables (plus derived columns for indexed queries, see
    ``indexed_queries.py``); also offers ``insert_notifications`` which stores notifications
    under their given ids (used by ``vmcore_event_store.copy``).
    """

    poll_interval: float = 0.02

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name, **kwargs)
        schema = self.datastore.schema
        table = self.events_table_name
        id_type = self.datastore.originator_id_type
        self._fn_insert = f"vmcore_insert_{table}"[: self.MAX_IDENTIFIER_LEN]
        self._fn_copy = f"vmcore_copy_{table}"[: self.MAX_IDENTIFIER_LEN]
        self._fn_watermark = f"vmcore_watermark_{table}"[: self.MAX_IDENTIFIER_LEN]
        self.sql_create_statements.extend(
            [
                _sql.insert_function(schema, table, self._fn_insert, id_type),
                _sql.insert_notifications_function(schema, table, self._fn_copy, id_type),
                _sql.watermark_function(schema, table, self._fn_watermark),
            ]
        )
        id_cast = SQL(id_type)
        fields = "%s::timestamptz[], %s::text[], %s::text[], %s::text[], %s::text[]"
        self._call_insert = SQL(
            "SELECT {schema}.{fn}(%s::{t}[], %s::bigint[], %s::text[], %s::bytea[], "
            + fields + ") AS id"
        ).format(schema=Identifier(schema), fn=Identifier(self._fn_insert), t=id_cast)
        self._call_copy = SQL(
            "SELECT {schema}.{fn}(%s::bigint[], %s::{t}[], %s::bigint[], %s::text[], "
            "%s::bytea[], " + fields + ") AS id"
        ).format(schema=Identifier(schema), fn=Identifier(self._fn_copy), t=id_cast)
        # Name the columns: ``SELECT *`` would also fetch the derived ones.
        self.select_events_statement = SQL(
            "SELECT originator_id, originator_version, topic, state "
            "FROM {schema}.{table} WHERE originator_id = %s"
        ).format(schema=Identifier(schema), table=Identifier(table))
        self._call_watermark = SQL("SELECT {schema}.{fn}() AS id").format(
            schema=Identifier(schema), fn=Identifier(self._fn_watermark)
        )
        self._select_committed = committed_ids_statement(schema, table, id_type)
        self._select_base = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{table} WHERE notification_id <= %s"
        ).format(schema=Identifier(schema), table=Identifier(table))

    def _create_table(self, curs: psycopg.Cursor[DictRow]) -> None:
        super()._create_table(curs)
        self._migrate_for_queries(curs)

    def create_table(self) -> None:
        super().create_table()
        self.backfill_query_fields()  # rows of an older table (none in a new one)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Stores the events atomically; a write whose reply was lost is not repeated
        (see ``in_doubt.py``)."""
        return write_in_doubt_safe(
            lambda: self._insert(stored_events), lambda: self._committed(stored_events)
        )

    def _committed(self, stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """The ids of ``stored_events`` if the server holds exactly them, else None."""
        if not stored_events:
            return None
        with self.datastore.get_connection() as conn:
            return find_committed_ids(conn, self._select_committed, stored_events)

    def _insert(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._call_insert, _columns(stored_events), prepare=True)
            return [row["id"] for row in curs.fetchall()]

    def insert_notifications(self, notifications: Sequence[Notification]) -> None:
        """Store notifications under their own ids, atomically (all or none).

        Raises ``IntegrityError`` if any (originator id, version) or notification id is
        already present. The table's id sequence is moved past the highest id written.
        Intended for copying into a store that nobody else writes to meanwhile.
        """
        if not notifications:
            return
        nids = [n.id for n in notifications]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._call_copy, (nids, *_columns(notifications)))

    def _watermark(self, conn: psycopg.Connection[DictRow]) -> int | None:
        row = conn.execute(self._call_watermark, prepare=True).fetchone()
        assert row is not None
        value: int | None = row["id"]
        return value

    @retry(_RETRYABLE, max_attempts=10, wait=0.2)
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        with self.datastore.get_connection() as conn:
            watermark = self._watermark(conn)
            if watermark is None:
                return []
            upper = watermark if stop is None else min(stop, watermark)
            statement: Composed = self._select_base
            params: list[Any] = [upper]
            if start is not None:
                op = ">=" if inclusive_of_start else ">"
                statement += SQL(" AND notification_id " + op + " %s")
                params.append(start)
            if topics:
                statement += SQL(" AND topic = ANY(%s)")
                params.append(list(topics))
            statement += SQL(" ORDER BY notification_id LIMIT %s")
            params.append(limit)
            rows = conn.execute(statement, params, prepare=True).fetchall()
        return [
            Notification(
                id=row["notification_id"],
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
            for row in rows
        ]

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return PollingSubscription(
            self, gt, topics, interval=self.poll_interval, probe=self.max_notification_id
        )


class VmcoreProcessRecorder(VmcoreApplicationRecorder, PostgresProcessRecorder):
    """Process recorder: tracking row and events in one transaction, same id scheme."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
    ) -> None:
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            tracking_table_name=tracking_table_name,
        )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        if tracking is None:
            return super().insert_events(stored_events)
        return write_in_doubt_safe(
            lambda: self._insert_tracked(stored_events, tracking),
            lambda: self._committed_with(stored_events, tracking),
        )

    def _committed_with(
        self, stored_events: Sequence[StoredEvent], tracking: Tracking
    ) -> list[int] | None:
        if stored_events:
            return self._committed(stored_events)
        current = self.max_tracking_id(tracking.application_name)
        return [] if current == tracking.notification_id else None

    def _insert_tracked(
        self, stored_events: Sequence[StoredEvent], tracking: Tracking
    ) -> list[int]:
        ids: list[int] = []
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._insert_tracking(curs, tracking)
            if stored_events:
                curs.execute(self._call_insert, _columns(stored_events), prepare=True)
                ids = [row["id"] for row in curs.fetchall()]
        return ids
