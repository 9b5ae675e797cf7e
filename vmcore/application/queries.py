"""Queries across VMs: events by bus-topic pattern, VM, time range, correlation id and TRN."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any
from uuid import UUID

from attrs import frozen
from eventsourcing.utils import get_topic

from vmcore.domain.events import EVENT_CLASSES, VmEvent
from vmcore.domain.trn import Trn


@frozen
class EventQuery:
    """What to select. Every given criterion must match; ``None`` means any.

    ``topic`` is a bus-topic pattern (``vm.started``, ``vm.*``, ``*``); ``vm_id`` selects
    one VM's events; ``trn`` matches the actor, source or target TRN of the event
    (``trn:user:alice``, ``trn:vm:*``).
    """

    topic: str | None = None
    vm_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    correlation_id: str | None = None
    trn: str | None = None
    limit: int | None = None

    def stored_topics(self) -> list[str]:
        """The eventsourcing topics of the event classes the topic pattern can match (empty
        means no restriction), so stores can filter before decoding."""
        if self.topic is None:
            return []
        return [get_topic(cls) for cls in EVENT_CLASSES if fnmatchcase(cls.bus_topic, self.topic)]

    def index_criteria(self) -> dict[str, Any]:
        """The criteria a store with indexed queries (``query_notifications``) selects by;
        the TRN pattern as its literal prefix (each event is still checked by
        :meth:`matches`)."""
        return {"originator_id": self.vm_id, "since": self.since, "until": self.until,
                "correlation_id": self.correlation_id, "trn_prefix": trn_prefix(self.trn)}

    def matches(self, event: VmEvent) -> bool:
        if self.topic is not None and not fnmatchcase(event.bus_topic, self.topic):
            return False
        if self.vm_id is not None and event.originator_id != self.vm_id:
            return False
        if self.since is not None and event.timestamp < self.since:
            return False
        if self.until is not None and event.timestamp > self.until:
            return False
        if self.correlation_id is not None and event.correlation_id != self.correlation_id:
            return False
        return self.trn is None or any(
            Trn.parse(value).matches(self.trn)
            for value in (event.actor, event.source, event.target)
            if value is not None
        )

    def select(self, events: Iterable[VmEvent]) -> list[VmEvent]:
        selected: list[VmEvent] = []
        for event in events:
            if self.matches(event):
                selected.append(event)
                if self.limit is not None and len(selected) >= self.limit:
                    break
        return selected


def trn_prefix(pattern: str | None) -> str | None:
    """The literal beginning every TRN matching ``pattern`` starts with (None: any).

    >>> trn_prefix("trn:vm:*"), trn_prefix("trn:user:alice"), trn_prefix("trn:*:x")
    ('trn:vm:', 'trn:user:alice', 'trn:')
    """
    if pattern is None:
        return None
    parts = pattern.split(":")
    for index, part in enumerate(parts):
        if part in ("*", "**"):
            return ":".join(parts[:index]) + ":"
    return pattern
