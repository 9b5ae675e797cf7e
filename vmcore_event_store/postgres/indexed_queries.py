"""The application recorder's indexed queries: migrating a table to them, and answering them.

``query_notifications`` has the signature of the file store's, so ``ControlPlane.query_events``
(and ``vmcore events``) uses whichever store it is given. The columns, indexes and SQL are in
``event_queries.py``; this mixin adds them to a table (old tables too, then fills them in:
that needs write permission, so only ``create_table`` does it) and runs the queries behind
the same reader barrier as ``select_notifications``. Queries never write: a row whose fields
are not filled in (a writer that does not fill them) is checked in Python instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import psycopg
from eventsourcing.persistence import Notification
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import retry
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from vmcore_event_store.event_fields import IndexedQuery, extract
from vmcore_event_store.postgres.event_queries import (
    FIELD_COLUMNS,
    backfill_statements,
    field_arrays,
    index_definitions,
    query_statement,
)
from vmcore_event_store.postgres.in_doubt import RETRYABLE

__all__ = ["IndexedQueries"]

BACKFILL_PAGE = 5_000


class IndexedQueries:
    """Mixin for ``VmcoreApplicationRecorder``: the derived columns and ``query_notifications``."""

    datastore: PostgresDatastore
    events_table_name: str
    MAX_IDENTIFIER_LEN: int

    def _watermark(self, conn: psycopg.Connection[DictRow]) -> int | None:
        raise NotImplementedError

    def _migrate_for_queries(self, curs: psycopg.Cursor[DictRow]) -> None:
        """Adds the derived columns and their indexes where missing (called inside the table
        creation transaction, under the DDL lock). The catalogue is read first so that an
        up-to-date table is not locked by ``ALTER TABLE`` on every start."""
        schema, table = self.datastore.schema, self.events_table_name
        curs.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attnum > 0 AND NOT attisdropped",
            (f'"{schema}"."{table}"',),
        )
        present = {row["attname"] for row in curs.fetchall()}
        missing = [(name, kind) for name, kind in FIELD_COLUMNS if name not in present]
        if missing:
            curs.execute(
                SQL("ALTER TABLE {schema}.{table} ").format(
                    schema=Identifier(schema), table=Identifier(table))
                + SQL(", ").join(
                    SQL("ADD COLUMN IF NOT EXISTS {name} " + kind).format(name=Identifier(name))
                    for name, kind in missing)
            )
        curs.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
            (schema, table),
        )
        indexes = {row["indexname"] for row in curs.fetchall()}
        for name, definition in index_definitions(table, self.MAX_IDENTIFIER_LEN).items():
            if name not in indexes:
                curs.execute(
                    SQL("CREATE INDEX IF NOT EXISTS {name} ON {schema}.{table} " + definition)
                    .format(name=Identifier(name), schema=Identifier(schema),
                            table=Identifier(table))
                )

    def backfill_query_fields(self) -> int:
        """Fills the derived columns of rows that lack them (written before the migration or
        by another writer), a page per transaction; returns how many rows were filled."""
        select, update = backfill_statements(self.datastore.schema, self.events_table_name)
        filled = 0
        while True:
            with self.datastore.transaction(commit=True) as curs:
                curs.execute(select, (BACKFILL_PAGE,))
                rows = curs.fetchall()
                if rows:
                    ids = [row["notification_id"] for row in rows]
                    states = [bytes(row["state"]) for row in rows]
                    curs.execute(update, (ids, *field_arrays(states)))
            filled += len(rows)
            if len(rows) < BACKFILL_PAGE:
                return filled

    @retry(RETRYABLE, max_attempts=10, wait=0.2)
    def query_notifications(
        self,
        *,
        start: int = 1,
        limit: int = 100,
        topics: Sequence[str] = (),
        originator_id: UUID | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        correlation_id: str | None = None,
        trn_prefix: str | None = None,
    ) -> Sequence[Notification]:
        """Notifications from ``start`` (in id order) matching every given criterion, by index.

        The same contract as the file store's ``query_notifications``: times compare with the
        events' ``timestamp``; ``correlation_id`` and ``trn_prefix`` (actor, source or target
        starting with it) with their ``meta``.
        """
        with self.datastore.get_connection() as conn:
            upper = self._watermark(conn)
            if upper is None or limit <= 0:
                return []
            query = query_statement(
                self.datastore.schema, self.events_table_name,
                self.datastore.originator_id_type, upper=upper, start=start, limit=limit,
                topics=topics, originator_id=originator_id, since=since, until=until,
                correlation_id=correlation_id, trn_prefix=trn_prefix,
            )
            if query is None:
                return []
            # Not prepared: a generic plan cannot know how selective this page's topics and
            # times are; planning each query picks the index for the values given.
            found = [_notification(row) for row in
                     conn.execute(query[0], query[1], prepare=False).fetchall()]
            criteria = IndexedQuery(
                tuple(topics), None if originator_id is None else str(originator_id),
                since, until, correlation_id, trn_prefix)
            if any(x is not None for x in (since, until, correlation_id, trn_prefix)):
                # Rows without their fields filled (see backfill_query_fields) match no
                # such criterion in SQL: check them here, so none is ever missed.
                bound = found[-1].id if len(found) == limit else upper
                found = _merged(found, self._unfilled(conn, criteria, start, bound, limit),
                                limit)
        return found

    def _unfilled(self, conn: psycopg.Connection[DictRow], criteria: IndexedQuery,
                  start: int, upper: int, limit: int) -> list[Notification]:
        """Rows from ``start`` to ``upper`` whose fields are not filled in and that match
        ``criteria`` (by the partial index: normally none, one probe)."""
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{table} WHERE vmcore_fields IS NULL AND notification_id >= %s "
            "AND notification_id <= %s ORDER BY notification_id LIMIT %s"
        ).format(schema=Identifier(self.datastore.schema),
                 table=Identifier(self.events_table_name))
        matching: list[Notification] = []
        while len(matching) < limit:
            rows = conn.execute(statement, (start, upper, BACKFILL_PAGE), prepare=True).fetchall()
            for row in rows:
                n = _notification(row)
                if criteria.matches(n.topic, str(n.originator_id), extract(n.state)):
                    matching.append(n)
            if len(rows) < BACKFILL_PAGE:
                break
            start = rows[-1]["notification_id"] + 1
        return matching[:limit]


def _notification(row: DictRow) -> Notification:
    return Notification(
        id=row["notification_id"],
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )


def _merged(first: list[Notification], second: list[Notification],
            limit: int) -> list[Notification]:
    if not second:
        return first
    return sorted(first + second, key=lambda n: n.id)[:limit]
