"""Reading the store's notification log as positioned VM events (for paging and live push).

A position is the event's notification id: it orders every event of every VM in commit
order, so a reader that remembers the last position it saw can resume exactly there.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    position = after
    while True:
        page = read_log(application, position, topics=topics)
        for item in page.events:
            if query.matches(item.event):
                found.append(item)
                if len(found) == limit:
                    return found, item.position
        position = page.last_position
        if page.exhausted:
            return found, None
