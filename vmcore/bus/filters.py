"""Filter chains: every filter of a subscription must accept an event before it is delivered."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from attrs import field, frozen

from vmcore.domain.runtime import topic_of

EventFilter = Callable[[Any], bool]
"""A filter is any callable ``event -> bool``; the classes below are the common ones."""


def vm_id_of(event: object) -> UUID | None:
    """The VM an event concerns: a domain event's ``originator_id`` or a runtime ``vm_id``."""
    vm_id = getattr(event, "vm_id", None)
    if vm_id is None:
        vm_id = getattr(event, "originator_id", None)
    return vm_id if isinstance(vm_id, UUID) else None


def _classes(values: Iterable[type]) -> tuple[type, ...]:
    return tuple(values)


def _strings(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


def _uuids(values: Iterable[UUID]) -> frozenset[UUID]:
    return frozenset(values)


@frozen
class EventTypeFilter:
    """Accepts events that are instances of one of ``classes`` or whose topic is in ``topics``."""

    classes: tuple[type, ...] = field(default=(), converter=_classes)
    topics: frozenset[str] = field(default=frozenset(), converter=_strings)

    def __call__(self, event: object) -> bool:
        if self.classes and isinstance(event, self.classes):
            return True
        return bool(self.topics) and topic_of(event) in self.topics


@frozen
class VmIdFilter:
    """Accepts events about one of the given VMs."""

    vm_ids: frozenset[UUID] = field(converter=_uuids)

    def __call__(self, event: object) -> bool:
        return vm_id_of(event) in self.vm_ids


@frozen
class TimeRangeFilter:
    """Accepts events whose ``timestamp`` lies in ``[start, end)``; open ends are unbounded.

    Events without a ``timestamp`` attribute (runtime events) are rejected.
    """

    start: datetime | None = None
    end: datetime | None = None

    def __call__(self, event: object) -> bool:
        timestamp = getattr(event, "timestamp", None)
        if not isinstance(timestamp, datetime):
            return False
        if self.start is not None and timestamp < self.start:
            return False
        return self.end is None or timestamp < self.end


@frozen
class PredicateFilter:
    """Accepts events for which ``predicate(event)`` is true."""

    predicate: Callable[[Any], bool]

    def __call__(self, event: object) -> bool:
        return bool(self.predicate(event))


def _to_tuple(filters: Iterable[EventFilter]) -> tuple[EventFilter, ...]:
    return tuple(filters)


@frozen
class FilterChain:
    """All filters must match (an empty chain matches everything)."""

    filters: tuple[EventFilter, ...] = field(default=(), converter=_to_tuple)

    def __call__(self, event: object) -> bool:
        return all(f(event) for f in self.filters)

    @classmethod
    def of(cls, filters: Iterable[EventFilter] | EventFilter | None) -> FilterChain | None:
        """A chain from one filter, several, or none (``None`` when there is nothing to check)."""
        if filters is None:
            return None
        items = (filters,) if callable(filters) else tuple(filters)
        return cls(items) if items else None
