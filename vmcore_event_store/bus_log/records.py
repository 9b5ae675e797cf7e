"""What the bus service's event log stores: seed 002's ``event_log`` rows, the rules of an
instance, the rule firings that make rules fire once, and named cursors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from attrs import frozen

MAX_LIMIT = 1000
"""The most events one :meth:`BusLog.select` returns."""


@frozen
class NewEvent:
    """An event to append; ``payload`` and ``metadata`` are JSON text."""

    topic: str
    payload: str
    timestamp: int
    metadata: str | None = None
    source_trn: str | None = None
    target_trn: str | None = None
    correlation_id: str | None = None


@frozen
class StoredEvent:
    """A row of ``event_log``: a :class:`NewEvent` with the id the log gave it."""

    event_id: int
    topic: str
    payload: str
    timestamp: int
    metadata: str | None
    source_trn: str | None
    target_trn: str | None
    correlation_id: str | None

    @classmethod
    def of(cls, event_id: int, event: NewEvent) -> StoredEvent:
        return cls(event_id, event.topic, event.payload, event.timestamp, event.metadata,
                   event.source_trn, event.target_trn, event.correlation_id)


@frozen
class Firing:
    """That rule ``rule_id`` has acted on event ``trigger_event_id`` (recorded once)."""

    rule_id: str
    trigger_event_id: int


@frozen
class TopicInfo:
    topic: str
    count: int
    last_event_id: int


@frozen
class LogQuery:
    """Which events to select: ``topic`` is exact, ``*`` or ``prefix.*``; ``since`` is the
    last event_id the caller saw; TRN filters are prefixes; times are ms, inclusive."""

    topic: str = "*"
    since: int = 0
    limit: int = 100
    source_trn: str | None = None
    target_trn: str | None = None
    correlation_id: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None

    def matches(self, event: StoredEvent) -> bool:
        """The same selection in Python (the in-memory log; checks of the SQL ones)."""
        return (event.event_id > self.since and topic_selected(self.topic, event.topic)
                and _prefixed(event.source_trn, self.source_trn)
                and _prefixed(event.target_trn, self.target_trn)
                and (self.correlation_id is None or event.correlation_id == self.correlation_id)
                and (self.from_ms is None or event.timestamp >= self.from_ms)
                and (self.to_ms is None or event.timestamp <= self.to_ms))


def _prefixed(value: str | None, prefix: str | None) -> bool:
    return prefix is None or (value is not None and value.startswith(prefix))


def topic_selected(pattern: str, topic: str) -> bool:
    """``*`` selects every topic, ``vm.*`` every topic starting ``vm.``, else equality."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return topic.startswith(pattern[:-1])
    return pattern == topic


def like_escape(text: str) -> str:
    """``text`` for a SQL ``LIKE ... ESCAPE '\\'`` prefix match."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class BusLog(Protocol):
    """A bus instance's storage. Implementations are used from one thread at a time."""

    durable: bool

    def append(self, events: Sequence[NewEvent], *, firing: Firing | None = None,
               cursor: tuple[str, int] | None = None) -> list[StoredEvent] | None:
        """Store ``events`` (with ``firing`` and ``cursor``) in one transaction; returns them
        with their ids in order, or ``None`` (nothing stored) when ``firing`` exists."""
        ...

    def select(self, query: LogQuery) -> list[StoredEvent]: ...

    def topics(self) -> list[TopicInfo]: ...

    def last_event_id(self) -> int: ...

    def fired(self, firing: Firing) -> bool: ...

    def cursor(self, name: str) -> int: ...

    def put_rule(self, rule_id: str, body: str) -> None: ...

    def delete_rule(self, rule_id: str) -> bool: ...

    def rules(self) -> list[tuple[str, str]]: ...

    def close(self) -> None: ...


def sql_where(query: LogQuery, mark: str) -> tuple[str, list[Any]]:
    """The WHERE clause of ``query`` with ``mark`` as the placeholder (``?`` or ``%s``)."""
    clauses = [f"event_id > {mark}"]
    values: list[Any] = [query.since]
    if query.topic.endswith(".*"):
        clauses.append(f"topic LIKE {mark} ESCAPE '\\'")
        values.append(like_escape(query.topic[:-1]) + "%")
    elif query.topic != "*":
        clauses.append(f"topic = {mark}")
        values.append(query.topic)
    for column in ("source_trn", "target_trn"):
        prefix = getattr(query, column)
        if prefix is not None:
            clauses.append(f"{column} LIKE {mark} ESCAPE '\\'")
            values.append(like_escape(prefix) + "%")
    if query.correlation_id is not None:
        clauses.append(f"correlation_id = {mark}")
        values.append(query.correlation_id)
    if query.from_ms is not None:
        clauses.append(f"timestamp >= {mark}")
        values.append(query.from_ms)
    if query.to_ms is not None:
        clauses.append(f"timestamp <= {mark}")
        values.append(query.to_ms)
    return " AND ".join(clauses), values


INDEXES = (
    "CREATE INDEX IF NOT EXISTS event_log_topic ON event_log (topic, event_id)",
    "CREATE INDEX IF NOT EXISTS event_log_source ON event_log (source_trn, event_id)"
    " WHERE source_trn IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS event_log_target ON event_log (target_trn, event_id)"
    " WHERE target_trn IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS event_log_time ON event_log (timestamp)",
    "CREATE INDEX IF NOT EXISTS event_log_correlation ON event_log (correlation_id)"
    " WHERE correlation_id IS NOT NULL",
)
"""The event_log's indexes, the same for SQLite and PostgreSQL. The optional columns' indexes
are partial (rows without the column are not in them), so an event without a target TRN or a
correlation id writes no page of those indexes: in SQLite each index page an insert touches
is one more 4 KiB WAL frame to fsync at commit. A filter on one of those columns implies
``IS NOT NULL``, so the partial index serves the same queries. (Databases made before keep
their full indexes: ``IF NOT EXISTS`` leaves an index of the same name alone.)"""
