"""Indexed event queries on PostgreSQL: derived columns, their indexes, and the SELECT.

The fields a query selects by live inside each event's ``state`` (see
``vmcore_event_store.event_fields``, shared with the file store). The writer extracts them
in Python and stores them in six columns added to eventsourcing's events table:

* ``vmcore_ts timestamptz``: the event's ``timestamp``;
* ``vmcore_correlation``, ``vmcore_actor``, ``vmcore_source``, ``vmcore_target``
  (``text COLLATE "C"``: byte order, as the file store's SQLite index compares);
* ``vmcore_fields smallint``: 1 once the row's fields were extracted, NULL for a row written
  before the columns existed or by a writer that does not fill them (eventsourcing's own
  recorder, an older vmcore). Such rows are filled in ("backfilled") by ``create_table`` and,
  should any appear later, before the next query.

Indexes: (topic, notification_id), (topic, vmcore_ts), (vmcore_ts) for rows with filled fields,
one on each of the four text columns (partial: only rows that have the field), and a partial
index of the rows still to be filled. By VM, the table's primary
key (originator_id, originator_version) serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg.sql import SQL, Composed, Identifier

from vmcore_event_store.event_fields import extract

__all__ = [
    "FIELD_COLUMNS",
    "backfill_statements",
    "field_arrays",
    "index_definitions",
    "query_statement",
]

FIELDS_VERSION = 1
FIELD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("vmcore_ts", "timestamptz"),
    ("vmcore_correlation", 'text COLLATE "C"'),
    ("vmcore_actor", 'text COLLATE "C"'),
    ("vmcore_source", 'text COLLATE "C"'),
    ("vmcore_target", 'text COLLATE "C"'),
    ("vmcore_fields", "smallint"),
)
_TRN_COLUMNS = ("vmcore_actor", "vmcore_source", "vmcore_target")
_MAX_CHAR = 0x10FFFF


def index_definitions(table: str, max_len: int = 63) -> dict[str, str]:
    """Index name -> what follows ``ON <table>`` in its CREATE INDEX (names as PostgreSQL
    would truncate them, so the same names are found again)."""
    definitions = {
        "vmcore_topic": "(topic, notification_id)",
        "vmcore_topic_ts": "(topic, vmcore_ts)",
        "vmcore_time": "(vmcore_ts) WHERE vmcore_fields IS NOT NULL",  # see query_statement
        # Partial: rows without the field (``source`` is often null) cost these nothing;
        # a comparison with a value implies IS NOT NULL, so the planner still uses them.
        "vmcore_corr": "(vmcore_correlation) WHERE vmcore_correlation IS NOT NULL",
        "vmcore_actor": "(vmcore_actor) WHERE vmcore_actor IS NOT NULL",
        "vmcore_source": "(vmcore_source) WHERE vmcore_source IS NOT NULL",
        "vmcore_target": "(vmcore_target) WHERE vmcore_target IS NOT NULL",
        "vmcore_unfilled": "(notification_id) WHERE vmcore_fields IS NULL",
    }
    return {f"{table}_{suffix}_idx"[:max_len]: ddl for suffix, ddl in definitions.items()}


def _storable(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL: such a value is not indexed (no vmcore field has
    one; a query for it finds nothing, see ``query_statement``)."""
    return None if value is None or "\x00" in value else value


def field_arrays(
    states: Iterable[bytes],
) -> tuple[list[datetime | None], list[str | None], list[str | None], list[str | None],
           list[str | None]]:
    """The derived columns of events with these states, one array per column (for
    ``unnest``)."""
    columns: tuple[list[Any], ...] = ([], [], [], [], [])
    ts, corr, actor, source, target = columns
    for state in states:
        fields = extract(state)
        ts.append(fields.moment)
        corr.append(_storable(fields.correlation))
        actor.append(_storable(fields.actor))
        source.append(_storable(fields.source))
        target.append(_storable(fields.target))
    return ts, corr, actor, source, target


def backfill_statements(schema: str, table: str) -> tuple[Composed, Composed]:
    """Select a page of unfilled rows (by the partial index); fill rows given by id."""
    select = SQL(
        "SELECT notification_id, state FROM {schema}.{table} WHERE vmcore_fields IS NULL "
        "ORDER BY notification_id LIMIT %s"
    ).format(schema=Identifier(schema), table=Identifier(table))
    update = SQL(
        "UPDATE {schema}.{table} AS e SET vmcore_ts = u.ts, vmcore_correlation = u.c, "
        "vmcore_actor = u.a, vmcore_source = u.s, vmcore_target = u.t, "
        "vmcore_fields = {version} "
        "FROM unnest(%s::bigint[], %s::timestamptz[], %s::text[], %s::text[], %s::text[], "
        "%s::text[]) AS u(id, ts, c, a, s, t) WHERE e.notification_id = u.id"
    ).format(schema=Identifier(schema), table=Identifier(table),
             version=SQL(str(FIELDS_VERSION)))
    return select, update


def _successor(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (code point
    order, which is UTF-8 byte order), or None if there is none."""
    chars = list(prefix)
    while chars and ord(chars[-1]) == _MAX_CHAR:
        chars.pop()
    if not chars:
        return None
    following = ord(chars[-1]) + 1
    chars[-1] = chr(0xE000 if 0xD800 <= following <= 0xDFFF else following)
    return "".join(chars)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def query_statement(
    schema: str,
    table: str,
    id_type: str,
    *,
    upper: int,
    start: int,
    limit: int,
    topics: Sequence[str] = (),
    originator_id: UUID | str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    correlation_id: str | None = None,
    trn_prefix: str | None = None,
) -> tuple[Composed, list[Any]] | None:
    """The SELECT for one page of a query (ids ``start``..``upper``), or None when nothing
    can match (a NUL in a text criterion: PostgreSQL stores no such value)."""
    if any(text is not None and "\x00" in text for text in (correlation_id, trn_prefix)):
        return None
    originator = None if originator_id is None else str(originator_id)
    if originator is not None and id_type == "uuid":
        try:
            originator = str(UUID(originator))
        except ValueError:
            return None  # not a UUID: no event of a uuid-keyed table has it
    elif originator is not None and "\x00" in originator:
        return None
    common = Composed([SQL("notification_id >= %s AND notification_id <= %s")])
    common_params: list[Any] = [start, upper]
    if originator is not None:
        common += SQL(" AND originator_id = %s::{t}").format(t=SQL(id_type))
        common_params.append(originator)
    if correlation_id is not None:
        common += SQL(" AND vmcore_correlation = %s")
        common_params.append(correlation_id)
    if trn_prefix is not None:
        common += _prefix_condition(trn_prefix, common_params)
    # Events are appended in about time order, so the matches of a time range bunch
    # together in id order, where the planner assumes them spread evenly: walking the id
    # index until ``limit`` rows match would read everything before the range. ``+ 0``
    # hides that ordered path, leaving the time indexes (or the other criteria's) and a sort
    # of what they find: as the file store's index hints do.
    timed = (since is not None or until is not None) and originator is None \
        and correlation_id is None
    order = SQL(" ORDER BY notification_id + 0" if timed else " ORDER BY notification_id")

    def where(topic: str | None) -> tuple[Composed, list[Any]]:
        clause, params = common, list(common_params)
        if topic is not None:
            clause += SQL(" AND topic = %s")
            params.append(topic)
        for moment, op in ((since, ">="), (until, "<=")):
            if moment is not None:
                clause += SQL(f" AND vmcore_ts {op} %s")
                params.append(_utc(moment))
        if topic is None and timed:
            # The (vmcore_ts) index is partial on this (redundant: a row with a time has its
            # fields filled), so only a query without a topic can use it. Given the choice, the
            # planner prefers it to (topic, vmcore_ts), whose physical order it knows to be
            # sequential, and reads every topic's events in the range.
            clause += SQL(" AND vmcore_fields IS NOT NULL")
        return clause, params

    select = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM {schema}.{table} WHERE "
    ).format(schema=Identifier(schema), table=Identifier(table))
    distinct = list(dict.fromkeys(topics))
    if len(distinct) > 1:
        # One scan per topic, merged in id order: without a time range each branch reads
        # (topic, notification_id) in id order (Merge Append), so the page's rows are read
        # and no more however rare the topics (PostgreSQL 15 cannot read ``topic = ANY(...)``
        # from that index in id order); with one, each reads its topic's range.
        branches, params = [], []
        for topic in distinct:
            clause, branch_params = where(topic)
            branches.append(SQL("(") + select + clause + order + SQL(" LIMIT %s)"))
            params.extend([*branch_params, max(limit, 0)])
        statement = (SQL("SELECT * FROM (") + SQL(" UNION ALL ").join(branches)
                     + SQL(") AS found") + order + SQL(" LIMIT %s"))
    else:
        clause, params = where(distinct[0] if distinct else None)
        statement = select + clause + order + SQL(" LIMIT %s")
    params.append(max(limit, 0))
    return statement, params


def _prefix_condition(prefix: str, params: list[Any]) -> Composed:
    """Actor, source or target starting with ``prefix``, as ranges a btree index serves."""
    upper = _successor(prefix)
    terms = []
    for column in _TRN_COLUMNS:
        if upper is None:
            terms.append(SQL("{c} >= %s").format(c=Identifier(column)))
            params.append(prefix)
        else:
            terms.append(SQL("({c} >= %s AND {c} < %s)").format(c=Identifier(column)))
            params.extend([prefix, upper])
    return SQL(" AND (") + SQL(" OR ").join(terms) + SQL(")")
