"""SQL for the vmcore PostgreSQL recorder: the writer and reader functions and the lock keys.

The ordering scheme (see docs/postgres-store.md for the full argument):

* every writer takes a *shared* transaction-scoped advisory lock on the table's key before
  it draws notification ids from the table's sequence, and keeps it until its transaction has
  committed (or rolled back); writers never block each other at commit, so their commits
  share WAL flushes (PostgreSQL group commit);
* while a batch draws its ids it also holds a session-level *batch* lock, released right
  after the INSERT (before the commit), so one batch's ids are contiguous;
* a reader first passes a *barrier*: it takes the same key in *exclusive* mode, which is
  granted only once every writer that had drawn ids has finished, reads the highest committed
  notification id with a fresh snapshot, and lets go at once. Every id at or below that
  watermark belongs to a finished transaction, so reading up to it can never pass over an id
  that commits later.
"""

from __future__ import annotations

import hashlib

from psycopg.sql import SQL, Composed, Identifier, Literal

__all__ = [
    "batch_lock_key",
    "ddl_lock_key",
    "insert_function",
    "insert_notifications_function",
    "table_lock_key",
    "watermark_function",
]


# The derived query columns (see event_queries.py), passed as arrays after the four of
# eventsourcing's; ``vmcore_fields`` is set to 1 (filled) by the functions themselves.
_FIELD_PARAMS = ("p_ts timestamptz[], p_corr text[], p_actor text[], p_source text[], "
                 "p_target text[]")
_FIELD_ARGS = "p_ts, p_corr, p_actor, p_source, p_target"
_FIELD_COLUMNS = ("vmcore_ts, vmcore_correlation, vmcore_actor, vmcore_source, vmcore_target, "
                  "vmcore_fields")


def _key(text: str) -> int:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def table_lock_key(schema: str, table: str) -> int:
    """The advisory lock key guarding notification-id assignment of one events table."""
    return _key(f"vmcore.notification-ids:{schema}.{table}")


def batch_lock_key(schema: str, table: str) -> int:
    """The advisory lock key held (session level) only while a batch draws its ids.

    It keeps one batch's ids contiguous; it is released before the commit, so it does not
    serialise WAL flushes.
    """
    return _key(f"vmcore.notification-id-batch:{schema}.{table}")


def ddl_lock_key(schema: str) -> int:
    """The advisory lock key serialising table creation in one schema."""
    return _key(f"vmcore.ddl:{schema}")


def insert_function(schema: str, table: str, function: str, originator_id_type: str) -> Composed:
    """A function that inserts a batch under the shared id-assignment lock, returning ids."""
    return SQL(
        "CREATE OR REPLACE FUNCTION {schema}.{function}("
        "p_ids {id_type}[], p_versions bigint[], p_topics text[], p_states bytea[], "
        f"{_FIELD_PARAMS}) "
        "RETURNS SETOF bigint LANGUAGE plpgsql VOLATILE AS $BODY$ "
        "BEGIN "
        "PERFORM pg_advisory_xact_lock_shared({key}::bigint); "
        "PERFORM pg_advisory_lock({batch_key}::bigint); "
        "BEGIN "
        "RETURN QUERY INSERT INTO {schema}.{table} "
        f"(originator_id, originator_version, topic, state, {_FIELD_COLUMNS}) "
        f"SELECT *, 1 FROM unnest(p_ids, p_versions, p_topics, p_states, {_FIELD_ARGS}) "
        "RETURNING notification_id; "
        "EXCEPTION WHEN OTHERS OR query_canceled THEN "
        "PERFORM pg_advisory_unlock({batch_key}::bigint); "
        "RAISE; "
        "END; "
        "PERFORM pg_advisory_unlock({batch_key}::bigint); "
        "END; $BODY$"
    ).format(
        schema=Identifier(schema),
        function=Identifier(function),
        table=Identifier(table),
        id_type=SQL(originator_id_type),
        key=Literal(table_lock_key(schema, table)),
        batch_key=Literal(batch_lock_key(schema, table)),
    )


def insert_notifications_function(
    schema: str, table: str, function: str, originator_id_type: str
) -> Composed:
    """A function that inserts rows with given notification ids (store copy).

    It takes the same shared lock as ordinary writers and moves the table's sequence past
    the highest id it wrote, so later ordinary writes continue after the copied ids.
    """
    return SQL(
        "CREATE OR REPLACE FUNCTION {schema}.{function}("
        "p_nids bigint[], p_ids {id_type}[], p_versions bigint[], p_topics text[], "
        f"p_states bytea[], {_FIELD_PARAMS}) "
        "RETURNS bigint LANGUAGE plpgsql VOLATILE AS $BODY$ "
        "DECLARE m bigint; "
        "BEGIN "
        "PERFORM pg_advisory_xact_lock_shared({key}::bigint); "
        "INSERT INTO {schema}.{table} "
        f"(notification_id, originator_id, originator_version, topic, state, {_FIELD_COLUMNS}) "
        "SELECT *, 1 FROM unnest(p_nids, p_ids, p_versions, p_topics, p_states, "
        f"{_FIELD_ARGS}); "
        "SELECT max(n) INTO m FROM unnest(p_nids) AS n; "
        "IF m IS NOT NULL THEN "
        "PERFORM setval(s, greatest(m, coalesce(pg_sequence_last_value(s), 0))) "
        "FROM (SELECT pg_get_serial_sequence({qualified}, 'notification_id')::regclass "
        "AS s) AS q; "
        "END IF; "
        "RETURN m; "
        "END; $BODY$"
    ).format(
        schema=Identifier(schema),
        function=Identifier(function),
        table=Identifier(table),
        id_type=SQL(originator_id_type),
        key=Literal(table_lock_key(schema, table)),
        qualified=Literal(f'"{schema}"."{table}"'),
    )


def watermark_function(schema: str, table: str, function: str) -> Composed:
    """A function that waits until no writer is between id assignment and commit.

    It returns the highest committed notification id, read with a snapshot taken after the
    barrier, so all ids up to it belong to finished transactions.
    """
    return SQL(
        "CREATE OR REPLACE FUNCTION {schema}.{function}() "
        "RETURNS bigint LANGUAGE plpgsql VOLATILE AS $BODY$ "
        "DECLARE m bigint; "
        "BEGIN "
        "PERFORM pg_advisory_xact_lock({key}::bigint); "
        "SELECT max(notification_id) INTO m FROM {schema}.{table}; "
        "RETURN m; "
        "END; $BODY$"
    ).format(
        schema=Identifier(schema),
        function=Identifier(function),
        table=Identifier(table),
        key=Literal(table_lock_key(schema, table)),
    )
