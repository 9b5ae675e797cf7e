"""The fields of an event's state that the file and PostgreSQL stores index for queries.

A stored event's state is JSON written by eventsourcing's JSON transcoder or vmcore's orjson
transcoder. Two kinds of field are indexed when present: eventsourcing's ``timestamp`` (every
domain event has one) and, in a ``meta`` object, ``correlation_id``, ``actor``, ``source``
and ``target`` (vmcore's command metadata). Anything else, or state that is not JSON, simply
has no indexed fields.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

import orjson

__all__ = ["EventFields", "IndexedQuery", "extract", "utc_key"]


def utc_key(moment: datetime) -> str:
    """A timestamp as a string that sorts in time order (UTC, microseconds always)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _utc_text(moment.astimezone(UTC))


def _utc_text(moment: datetime) -> str:
    # ``YYYY-MM-DDTHH:MM:SS.ffffff`` of a UTC time (isoformat pads the year to four digits and
    # is about twice as fast as strftime, which matters: every stored event is extracted).
    return moment.isoformat(timespec="microseconds")[:26]


class EventFields(NamedTuple):
    """The indexed fields of one event (a named tuple: built once per stored event)."""

    ts: str | None = None
    correlation: str | None = None
    actor: str | None = None
    source: str | None = None
    target: str | None = None
    moment: datetime | None = None  # ``ts`` as an aware datetime (UTC), for PostgreSQL


_NONE = EventFields()


def _text(meta: dict[str, object], name: str) -> str | None:
    value = meta.get(name)
    return value if isinstance(value, str) else None


def extract(state: bytes) -> EventFields:
    if not state.startswith(b"{"):
        return _NONE
    try:
        data = orjson.loads(state)
    except orjson.JSONDecodeError:
        return _NONE
    ts = data.get("timestamp")
    if isinstance(ts, dict):
        ts = ts.get("_data_")
    key: str | None = None
    moment: datetime | None = None
    if isinstance(ts, str):
        try:
            parsed = datetime.fromisoformat(ts)
            moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
            key = _utc_text(moment)
        except (ValueError, OverflowError):  # not a time, or out of range in UTC
            key = moment = None
    meta = data.get("meta")
    if not isinstance(meta, dict):
        return EventFields(key, moment=moment)
    return EventFields(key, _text(meta, "correlation_id"), _text(meta, "actor"),
                       _text(meta, "source"), _text(meta, "target"), moment)


class IndexedQuery(NamedTuple):
    """What the store can select by index; every given criterion must hold.

    ``trn_prefix`` matches actor, source or target starting with it (callers pass the
    literal part of a TRN pattern and check the pattern themselves).
    """

    topics: tuple[str, ...] = ()
    originator_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    correlation_id: str | None = None
    trn_prefix: str | None = None

    def matches(self, topic: str, originator_key: str, fields: EventFields) -> bool:
        if self.topics and topic not in self.topics:
            return False
        if self.originator_id is not None and originator_key != self.originator_id:
            return False
        if self.since is not None and (fields.ts is None or fields.ts < utc_key(self.since)):
            return False
        if self.until is not None and (fields.ts is None or fields.ts > utc_key(self.until)):
            return False
        if self.correlation_id is not None and fields.correlation != self.correlation_id:
            return False
        if self.trn_prefix is not None:
            return any(
                value is not None and value.startswith(self.trn_prefix)
                for value in (fields.actor, fields.source, fields.target)
            )
        return True
