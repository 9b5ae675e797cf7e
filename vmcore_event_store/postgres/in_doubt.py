"""Writes whose outcome is in doubt: the connection broke after the request was sent.

When the connection to PostgreSQL drops after a write was sent, the client cannot tell
whether the server committed it: the reply may have been lost after the commit. Retrying
blindly would then hit the primary key and report the caller's own committed write as a
conflict. So after a connection error the recorder first asks the server whether the exact
rows it sent are there (same originator id, version, topic and state bytes): if they all
are, the write committed and their notification ids are returned; otherwise it writes
again, and if that write meets the primary key it asks once more (the first attempt may
still have been running on the server when the first question was asked).

A row with our key but other bytes is somebody else's event: a genuine conflict, reported
as ``IntegrityError`` as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

__all__ = ["RETRYABLE", "committed_ids_statement", "find_committed_ids", "write_in_doubt_safe"]

RETRYABLE: tuple[type[Exception], ...] = (InterfaceError, OperationalError)
"""The errors after which a write is retried (and its outcome is in doubt)."""

T = TypeVar("T")


def write_in_doubt_safe(
    write: Callable[[], T],
    find: Callable[[], T | None],
    *,
    attempts: int = 10,
    wait: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Runs ``write``; after a connection error, returns ``find()`` if the write turns out
    to have committed, else writes again (at most ``attempts`` times in all)."""
    in_doubt = False
    attempt = 0
    while True:
        attempt += 1
        try:
            if in_doubt and (found := find()) is not None:
                return found
            try:
                return write()
            except IntegrityError:
                if not in_doubt or (found := find()) is None:
                    raise
                return found
        except RETRYABLE:
            if attempt >= attempts:
                raise
            in_doubt = True
            sleep(wait * attempt)


def committed_ids_statement(schema: str, table: str, originator_id_type: str) -> Composed:
    """Selects the stored rows with the given (originator id, version) pairs."""
    return SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM {schema}.{table} WHERE (originator_id, originator_version) IN "
        "(SELECT * FROM unnest(%s::{id_type}[], %s::bigint[]))"
    ).format(
        schema=Identifier(schema), table=Identifier(table), id_type=SQL(originator_id_type)
    )


def _key(originator_id: UUID | str, version: int) -> tuple[str, int]:
    return str(originator_id), version


def find_committed_ids(
    conn: psycopg.Connection[DictRow], statement: Composed, stored_events: Sequence[StoredEvent]
) -> list[int] | None:
    """The notification ids of ``stored_events`` if every one is stored exactly as given
    (ids in the given order), else ``None``."""
    params: tuple[Any, ...] = (
        [e.originator_id for e in stored_events],
        [e.originator_version for e in stored_events],
    )
    rows = conn.execute(statement, params).fetchall()
    stored = {
        _key(row["originator_id"], row["originator_version"]): row for row in rows
    }
    ids: list[int] = []
    for event in stored_events:
        row = stored.get(_key(event.originator_id, event.originator_version))
        if row is None or row["topic"] != event.topic or bytes(row["state"]) != event.state:
            return None
        ids.append(row["notification_id"])
    return ids
