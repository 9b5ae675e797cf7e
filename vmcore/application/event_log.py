"""Reading the store's notification log as positioned VM events (for paging and live push).

A position is the event's notification id: it orders every event of every VM in commit
order, so a reader that remembers the last position it saw can resume exactly there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from attrs import frozen

from vmcore.application.queries import EventQuery
from vmcore.domain import VmEvent

DEFAULT_PAGE = 500


@frozen
class LoggedEvent:
    """A VM event and its position in the notification log."""

    position: int
    event: VmEvent


@frozen
class LogPage:
    """Events after a position; ``last_position`` is the last notification read (events of
    other aggregates included), ``exhausted`` says the log had nothing more."""

    events: list[LoggedEvent]
    last_position: int
    exhausted: bool


def logged_event(application: Any, notification: Any) -> LoggedEvent | None:
    """The VM event of a notification, or ``None`` for other aggregates' events."""
    event = application.mapper.to_domain_event(notification)
    return LoggedEvent(notification.id, event) if isinstance(event, VmEvent) else None


def read_log(application: Any, after: int, *, limit: int = DEFAULT_PAGE,
             topics: Sequence[str] = ()) -> LogPage:
    """Up to ``limit`` notifications after ``after``, as VM events.

    ``application`` is an eventsourcing application over the store (the ControlPlane).
    """
    batch = application.recorder.select_notifications(
        after + 1, limit, topics=list(topics))
    events = [item for item in (logged_event(application, n) for n in batch) if item]
    last = batch[-1].id if batch else after
    return LogPage(events, last, len(batch) < limit)


def head_position(application: Any) -> int:
    """The position of the last committed event (0 for an empty store)."""
    return int(application.recorder.max_notification_id() or 0)


def query_log(application: Any, query: EventQuery, *, after: int = 0,
              limit: int = 100) -> tuple[list[LoggedEvent], int | None]:
    """Up to ``limit`` events after ``after`` matching ``query`` (its own limit ignored),
    and the position to ask ``after`` for the next page (``None`` at the end)."""
    found: list[LoggedEvent] = []
    topics = query.stored_topics()
    if query.topic is not None and not topics:
        return found, None
    for notification in matching_notifications(application, query, topics, after=after):
        item = logged_event(application, notification)
        if item is not None and query.matches(item.event):
            found.append(item)
            if len(found) == limit:
                return found, item.position
    return found, None


def matching_notifications(application: Any, query: EventQuery, topics: Sequence[str], *,
                           after: int = 0, page: int = DEFAULT_PAGE) -> Iterator[Any]:
    """The notifications after ``after`` that may match ``query``, in commit order, read a
    page at a time: through the store's indexes where it has them (``query_notifications``:
    the file store, PostgreSQL), else with its topic filter only. Callers check each event
    with ``query.matches``."""
    recorder = application.recorder
    indexed = getattr(recorder, "query_notifications", None)
    criteria = query.index_criteria()
    start = after + 1
    while True:
        if indexed is None:
            batch = recorder.select_notifications(start, page, topics=list(topics))
        else:
            batch = indexed(start=start, limit=page, topics=topics, **criteria)
        yield from batch
        if len(batch) < page:
            return
        start = batch[-1].id + 1
